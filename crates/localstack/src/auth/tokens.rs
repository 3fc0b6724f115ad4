//! The tokens Auth hands out, and the decisions about them that need no
//! database: the access token's claims, refresh tokens' format, and what a
//! refresh token presented again is answered.

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

/// The access token's claims, as GoTrue writes them (supabase/auth
/// internal/tokens/service.go, `AccessTokenClaims` and `GenerateAccessToken`):
/// the registered claims first, then the user's. `aud` is a plain string
/// (GoTrue sets `jwt.MarshalSingleStringAsArray = false`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub email: String,
    pub phone: String,
    pub app_metadata: Value,
    pub user_metadata: Value,
    pub role: String,
    pub aal: String,
    pub amr: Vec<Amr>,
    pub session_id: String,
    pub is_anonymous: bool,
}

/// One entry of `amr`: how the session was signed in, and when
/// (models/amr.go, `AMREntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amr {
    pub method: String,
    pub timestamp: u64,
}

/// What an access token says about its user.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub id: String,
    pub aud: String,
    pub role: String,
    pub email: String,
    pub phone: String,
    pub app_metadata: Value,
    pub user_metadata: Value,
    pub is_anonymous: bool,
}

/// The claims of an access token for `subject` in `session_id`, issued at
/// `now` (Unix seconds) for `lifetime` seconds. Every session here is
/// signed in with a password and one factor: `aal1`.
pub fn access_claims(
    subject: &Subject,
    session_id: &str,
    amr: Vec<Amr>,
    issuer: &str,
    now: u64,
    lifetime: u64,
) -> AccessClaims {
    AccessClaims {
        iss: issuer.to_string(),
        sub: subject.id.clone(),
        aud: subject.aud.clone(),
        exp: now + lifetime,
        iat: now,
        email: subject.email.clone(),
        phone: subject.phone.clone(),
        app_metadata: subject.app_metadata.clone(),
        user_metadata: subject.user_metadata.clone(),
        role: subject.role.clone(),
        aal: "aal1".into(),
        amr,
        session_id: session_id.to_string(),
        is_anonymous: subject.is_anonymous,
    }
}

/// The alphabet of GoTrue's `crypto.SecureAlphanumeric`: lowercase base32.
const REFRESH_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
/// GoTrue's legacy refresh tokens are 12 characters (models/refresh_token.go).
pub const REFRESH_TOKEN_LENGTH: usize = 12;

pub fn new_refresh_token(rng: &mut impl Rng) -> String {
    (0..REFRESH_TOKEN_LENGTH)
        .map(|_| REFRESH_ALPHABET[rng.random_range(0..REFRESH_ALPHABET.len())] as char)
        .collect()
}

/// GoTrue's `RefreshTokenGrantParams.Validate` (api/token_refresh.go): a
/// token shorter than 12 characters, or of 12 that are not lowercase letters
/// and digits, is answered 400 `validation_failed` "Refresh token is not
/// valid" without a look in the database. Longer ones would be GoTrue's
/// newer signed tokens, which this stack does not issue: not valid either.
pub fn well_formed_refresh_token(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_LENGTH
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A refresh token as the database has it when it is presented.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presented {
    /// Already swapped for a newer token (or revoked otherwise).
    pub revoked: bool,
    /// It is the parent of the session's active token: the client refreshed
    /// with it and never stored the answer.
    pub parent_of_active: bool,
    /// The session still has an active (unrevoked) token.
    pub session_has_active: bool,
    /// Seconds since the token last changed, i.e. since it was swapped.
    pub seconds_since_update: f64,
}

/// What a refresh token presented to `grant_type=refresh_token` is
/// answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// The session's active token: revoke it and issue its child
    /// (`GrantRefreshTokenSwap`).
    Rotate,
    /// A token already swapped, reused where GoTrue allows it: answer the
    /// session's active token (and a fresh access token), issuing nothing.
    ReturnActive,
    /// Reused where GoTrue does not allow it: a stolen token, perhaps. The
    /// whole session ends and the answer is 400 `refresh_token_already_used`
    /// "Invalid Refresh Token: Already Used".
    EndSession,
}

/// GoTrue's rules (internal/tokens/service.go, `RefreshTokenGrant`):
///
/// - an active token rotates;
/// - the parent of the active token is always let through with the active
///   token ("the client was not able to store the result when it refreshed
///   token": both of GoTrue's refresh-token algorithms allow it);
/// - an older token is let through within the reuse interval after it was
///   swapped (`token.UpdatedAt + RefreshTokenReuseInterval`, the legacy
///   algorithm's test: concurrent refreshes, such as several tabs at once),
///   answered with the active token as GoTrue's newer algorithm answers an
///   allowed reuse (the legacy one would fork the session instead);
/// - later than that, the session ends: GoTrue's newer algorithm deletes
///   the session (`LogoutSession`), the legacy one revokes all its tokens;
///   either way no token of the session can refresh again.
pub fn decide(token: Presented, reuse_interval_seconds: u64) -> Refresh {
    let within_interval =
        token.session_has_active && token.seconds_since_update <= reuse_interval_seconds as f64;
    if !token.revoked {
        Refresh::Rotate
    } else if token.parent_of_active || within_interval {
        Refresh::ReturnActive
    } else {
        Refresh::EndSession
    }
}

/// GoTrue's `requireAuthentication` answers for a bearer token that does not
/// parse or verify: 403 `bad_jwt` "invalid JWT: unable to parse or verify
/// signature, {golang-jwt's error}". These are golang-jwt v5's words for
/// the failures jsonwebtoken tells apart.
pub fn jwt_error_text(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => "token has invalid claims: token is expired",
        ErrorKind::ImmatureSignature => "token has invalid claims: token is not valid yet",
        ErrorKind::InvalidSignature => "token signature is invalid: signature is invalid",
        ErrorKind::InvalidAlgorithm => "token is unverifiable: signing method is invalid",
        _ => "token is malformed: could not JSON decode or base64 decode a segment",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn operator() -> Subject {
        Subject {
            id: "0d9c4f4e-3c56-4d0e-9a44-1a3b2c4d5e6f".into(),
            aud: "authenticated".into(),
            role: "authenticated".into(),
            email: "operator@sluice.local".into(),
            phone: String::new(),
            app_metadata: json!({"provider": "email", "providers": ["email"], "sluice_operator": true}),
            user_metadata: json!({}),
            is_anonymous: false,
        }
    }

    #[test]
    fn access_claims_are_gotrues() {
        let amr = vec![Amr {
            method: "password".into(),
            timestamp: 1_700_000_000,
        }];
        let claims = access_claims(
            &operator(),
            "sid",
            amr,
            "http://127.0.0.1:54321/auth/v1",
            1_700_000_100,
            3600,
        );
        let value = serde_json::to_value(&claims).unwrap();
        assert_eq!(
            value,
            json!({
                "iss": "http://127.0.0.1:54321/auth/v1",
                "sub": "0d9c4f4e-3c56-4d0e-9a44-1a3b2c4d5e6f",
                "aud": "authenticated",
                "exp": 1_700_003_700u64,
                "iat": 1_700_000_100u64,
                "email": "operator@sluice.local",
                "phone": "",
                "app_metadata": {"provider": "email", "providers": ["email"], "sluice_operator": true},
                "user_metadata": {},
                "role": "authenticated",
                "aal": "aal1",
                "amr": [{"method": "password", "timestamp": 1_700_000_000u64}],
                "session_id": "sid",
                "is_anonymous": false,
            })
        );
        // Registered claims first, as golang-jwt writes them.
        let text = serde_json::to_string(&claims).unwrap();
        assert!(text.starts_with(r#"{"iss":"#), "{text}");
    }

    #[test]
    fn refresh_tokens_look_like_gotrues() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let token = new_refresh_token(&mut rng);
            assert_eq!(token.len(), 12);
            assert!(well_formed_refresh_token(&token), "{token}");
        }
        assert_ne!(new_refresh_token(&mut rng), new_refresh_token(&mut rng));
        assert!(!well_formed_refresh_token(""));
        assert!(!well_formed_refresh_token("short"));
        assert!(!well_formed_refresh_token("ABCDEFGHIJKL"));
        assert!(!well_formed_refresh_token("abcdefghijklm"));
    }

    fn presented(revoked: bool, parent_of_active: bool, seconds: f64) -> Presented {
        Presented {
            revoked,
            parent_of_active,
            session_has_active: true,
            seconds_since_update: seconds,
        }
    }

    #[test]
    fn the_active_token_rotates() {
        assert_eq!(decide(presented(false, false, 500.0), 10), Refresh::Rotate);
    }

    #[test]
    fn the_parent_of_the_active_token_gets_the_active_one_at_any_time() {
        assert_eq!(
            decide(presented(true, true, 0.5), 10),
            Refresh::ReturnActive
        );
        assert_eq!(
            decide(presented(true, true, 3600.0), 10),
            Refresh::ReturnActive
        );
    }

    #[test]
    fn an_older_token_is_let_through_within_the_interval_and_ends_the_session_after() {
        assert_eq!(
            decide(presented(true, false, 9.9), 10),
            Refresh::ReturnActive
        );
        assert_eq!(
            decide(presented(true, false, 10.0), 10),
            Refresh::ReturnActive
        );
        assert_eq!(
            decide(presented(true, false, 10.1), 10),
            Refresh::EndSession
        );
        assert_eq!(
            decide(presented(true, false, 0.0), 0),
            Refresh::ReturnActive
        );
        assert_eq!(decide(presented(true, false, 0.5), 0), Refresh::EndSession);
    }

    #[test]
    fn a_session_without_an_active_token_cannot_be_resumed() {
        let orphan = Presented {
            revoked: true,
            parent_of_active: false,
            session_has_active: false,
            seconds_since_update: 1.0,
        };
        assert_eq!(decide(orphan, 10), Refresh::EndSession);
    }
}
