//! A run frees what its tasks held. Tasks still waiting when a run ends
//! are referenced only by the wakers of the channels they wait on; a task
//! that holds the sending end of its own channel (as a member's request
//! tasks hold the member state that holds their reply channels) is a cycle
//! nothing breaks unless the run kills its nodes at the end. Before it
//! did, every run leaked its members (about 1.5 MB), and a 2-core soak
//! ran out of memory after about 13,000 runs.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sim::run_seed;

/// State that holds the sender its own task waits on (only held, never
/// used: the reply never comes).
struct Holder {
    _reply: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

#[test]
fn a_task_waiting_on_a_channel_its_own_state_holds_is_freed_after_the_run() {
    let (weak, _) = run_seed(1, |world| async move {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::new(Holder {
            _reply: Mutex::new(Some(tx)),
        });
        let weak: Weak<Holder> = Arc::downgrade(&state);
        // Never answered: the task keeps `state`, `state` keeps the sender,
        // the sender's channel keeps the task's waker.
        let _waiting = world.spawn_client(7, async move {
            let _keep = state;
            let _ = rx.await;
        });
        madsim::time::sleep(Duration::from_millis(10)).await;
        weak
    })
    .expect("the run completes");
    assert!(
        weak.upgrade().is_none(),
        "the waiting task and its state outlived the run"
    );
}
