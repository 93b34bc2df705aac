//! Sync progress listeners that let a test act at a chosen moment of a sync.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use carnet_core::sync::{CancelToken, SyncPhase, SyncProgress, SyncProgressReport};
use carnet_core::{Carnet, Error, SyncReport};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// Tells the test when the first chunk of a file was accepted (once per
/// listener), and cancels the sync at that moment if given a token.
pub struct FirstChunk {
    sender: UnboundedSender<()>,
    sent: AtomicBool,
    cancel: Option<CancelToken>,
    cancelled_at: Mutex<Option<Instant>>,
}

impl FirstChunk {
    /// The listener, and the receiver that hears once from it.
    pub fn new(cancel: Option<CancelToken>) -> (Arc<Self>, UnboundedReceiver<()>) {
        let (sender, receiver) = unbounded_channel();
        let hook = Arc::new(Self {
            sender,
            sent: AtomicBool::new(false),
            cancel,
            cancelled_at: Mutex::new(None),
        });
        (hook, receiver)
    }

    /// When it cancelled the sync, if it did.
    pub fn cancelled_at(&self) -> Option<Instant> {
        *self.cancelled_at.lock().unwrap()
    }
}

impl SyncProgress for FirstChunk {
    fn on_progress(&self, progress: SyncProgressReport) {
        if progress.phase == SyncPhase::Attachments
            && progress.bytes_done > 0
            && progress.bytes_done < progress.bytes_total
            && !self.sent.swap(true, Ordering::SeqCst)
        {
            if let Some(cancel) = &self.cancel {
                *self.cancelled_at.lock().unwrap() = Some(Instant::now());
                cancel.cancel();
            }
            let _ = self.sender.send(());
        }
    }
}

/// Starts a sync of `carnet` in a task and returns the task once the first
/// chunk of a file was accepted (the moment to break something).
pub async fn sync_past_first_chunk(carnet: &Arc<Carnet>) -> JoinHandle<Result<SyncReport, Error>> {
    let (hook, mut first_chunk) = FirstChunk::new(None);
    let carnet = Arc::clone(carnet);
    let syncing = tokio::spawn(async move { carnet.sync_with(Some(hook), None).await });
    first_chunk.recv().await.unwrap();
    syncing
}
