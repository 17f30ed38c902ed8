//! The server-wide shutdown signal, shared by every layer that runs something long-lived: the
//! listener stops accepting, streaming replies end, background tasks return. One `Trigger`,
//! any number of cheap `Shutdown` handles (a `watch` receiver each).

use tokio::sync::watch;

/// Starts the shutdown once; every [`Shutdown`] handle then sees it.
pub struct Trigger(watch::Sender<bool>);

/// A handle that tells whether shutdown has begun and waits for it.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new signal, not yet triggered.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// A handle that never fires, for tests and tools that run no server.
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // The receiver keeps its last value when the sender goes; `wait` then pends forever.
        drop(tx);
        Shutdown(rx)
    }

    pub fn has_begun(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown has begun (never, for [`Shutdown::never`]).
    pub async fn wait(&mut self) {
        if self.0.wait_for(|begun| *begun).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_handle_sees_the_trigger() {
        let (trigger, mut a) = channel();
        let mut b = trigger.subscribe();
        assert!(!a.has_begun());
        let waiter = tokio::spawn(async move { b.wait().await });
        trigger.trigger();
        a.wait().await;
        assert!(a.has_begun());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn never_does_not_fire() {
        let mut s = Shutdown::never();
        assert!(!s.has_begun());
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), s.wait()).await.is_err());
    }
}
