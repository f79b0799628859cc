//! Writing queued frames to a socket: what is already queued goes out together, in one
//! flush (one `write` for a burst of events instead of one per frame).

use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;

/// Frames written before a flush at most, so a producer that keeps the queue full still
/// sees its frames leave.
pub const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Writes `first` and whatever else is queued right now (up to [`MAX_FRAMES_PER_FLUSH`]
/// in all), then flushes once. Returns how many frames were written.
pub async fn write_queued<S, T>(
    sink: &mut S,
    first: T,
    queued: &mut mpsc::Receiver<T>,
) -> Result<usize, S::Error>
where
    S: Sink<T> + Unpin,
{
    sink.feed(first).await?;
    let mut written = 1;
    while written < MAX_FRAMES_PER_FLUSH {
        let Ok(next) = queued.try_recv() else { break };
        sink.feed(next).await?;
        written += 1;
    }
    sink.flush().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::sink::drain;

    /// A sink that records every item and every flush.
    #[derive(Default)]
    struct Recorder {
        items: Vec<u32>,
        flushes: Vec<usize>,
    }

    impl Sink<u32> for Recorder {
        type Error = std::convert::Infallible;
        fn poll_ready(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn start_send(mut self: std::pin::Pin<&mut Self>, item: u32) -> Result<(), Self::Error> {
            self.items.push(item);
            Ok(())
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            let written = self.items.len();
            self.flushes.push(written);
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_burst_goes_out_in_order_with_one_flush_per_bounded_batch() {
        let (tx, mut rx) = mpsc::channel(200);
        for i in 1..100 {
            tx.send(i).await.expect("the receiver is alive");
        }
        let mut sink = Recorder::default();
        let first = write_queued(&mut sink, 0, &mut rx)
            .await
            .expect("infallible");
        let second = rx.recv().await.expect("frames are left");
        let rest = write_queued(&mut sink, second, &mut rx)
            .await
            .expect("infallible");
        assert_eq!(
            (first, rest),
            (MAX_FRAMES_PER_FLUSH, 100 - MAX_FRAMES_PER_FLUSH)
        );
        assert_eq!(sink.items, (0..100).collect::<Vec<_>>());
        assert_eq!(sink.flushes, vec![MAX_FRAMES_PER_FLUSH, 100]);
    }

    #[tokio::test]
    async fn a_lone_frame_is_flushed_at_once() {
        let (_tx, mut rx) = mpsc::channel::<u32>(4);
        let mut sink = drain();
        assert_eq!(write_queued(&mut sink, 7, &mut rx).await.ok(), Some(1));
    }
}
