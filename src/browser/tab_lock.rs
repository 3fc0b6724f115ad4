//! One drainer per table across the browser's tabs, through the Web Locks
//! API: the lock is held while a tab drains and is released when it stops
//! or closes, which wakes the next tab waiting for it.

use futures::channel::oneshot;
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// Holds the lock until dropped.
pub struct TabLock {
    name: String,
    release: Function,
}

impl Drop for TabLock {
    fn drop(&mut self) {
        HELD_HERE.with_borrow_mut(|held| held.remove(&self.name));
        let _ = self.release.call0(&JsValue::NULL);
    }
}

thread_local! {
    /// The locks this tab holds: a drain that is still finishing its last
    /// events in this tab is not "another tab".
    static HELD_HERE: RefCell<std::collections::BTreeSet<String>> = RefCell::default();
}

/// Whether this tab itself holds the lock `name` (a drain still stopping).
pub fn held_in_this_tab(name: &str) -> bool {
    HELD_HERE.with_borrow(|held| held.contains(name))
}

/// The answer to a lock request. Dropped with a granted lock still in it
/// (the drain that asked stopped in between), it lets the lock go.
struct Waiting(oneshot::Receiver<Option<Function>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Ok(Some(Some(release))) = self.0.try_recv() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}

fn lock_manager() -> Result<JsValue, String> {
    let navigator = web_sys::window().ok_or("no window")?.navigator();
    let locks = Reflect::get(&navigator, &"locks".into()).map_err(|_| "no Web Locks")?;
    if locks.is_undefined() {
        return Err("this browser has no Web Locks API".into());
    }
    Ok(locks)
}

/// Takes the lock `name` if no other tab holds it. `Err` when the browser
/// has no Web Locks (then nothing keeps two tabs from draining at once).
pub async fn try_acquire(name: &str) -> Result<Option<TabLock>, String> {
    request(&lock_manager()?, name, true).await
}

/// Waits until the tab holding `name` lets go (or closes), then takes it.
pub async fn acquire(name: &str) -> Result<TabLock, String> {
    request(&lock_manager()?, name, false)
        .await?
        .ok_or_else(|| "the lock request was refused".into())
}

async fn request(
    locks: &JsValue,
    name: &str,
    if_available: bool,
) -> Result<Option<TabLock>, String> {
    let (sender, receiver) = oneshot::channel::<Option<Function>>();
    let sender = Rc::new(RefCell::new(Some(sender)));
    let callback = Closure::once_into_js(move |lock: JsValue| -> Promise {
        // Gives the waiting future its lock; `Err` with the lock back when
        // nobody waits any more (the drain that asked stopped meanwhile).
        let send = |value: Option<Function>| match sender.borrow_mut().take() {
            Some(sender) => sender.send(value),
            None => Err(value),
        };
        if lock.is_null() {
            let _ = send(None);
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        // The lock is held until this promise settles: keep its resolver.
        let mut release = None;
        let held = Promise::new(&mut |resolve, _reject| release = Some(resolve));
        if let Err(Some(unwanted)) = send(release) {
            // Granted to a request nobody waits for: let it go at once, or
            // no tab could ever drain this table again.
            let _ = unwanted.call0(&JsValue::NULL);
        }
        held
    });
    let options = Object::new();
    Reflect::set(&options, &"ifAvailable".into(), &if_available.into())
        .map_err(|_| "lock options")?;
    let request: Function = Reflect::get(locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("navigator.locks.request is missing")?;
    request
        .call3(locks, &name.into(), &options, &callback)
        .map_err(|_| "navigator.locks.request failed")?;
    let mut waiting = Waiting(receiver);
    let release = (&mut waiting.0)
        .await
        .map_err(|_| "the lock request was dropped")?;
    Ok(release.map(|release| {
        HELD_HERE.with_borrow_mut(|held| held.insert(name.to_string()));
        TabLock {
            name: name.to_string(),
            release,
        }
    }))
}
