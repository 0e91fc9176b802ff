//! The response body type: a whole buffer, or a channel fed by a stream relay.

use std::convert::Infallible;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{Either, Full, StreamBody};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// A frame stream fed by a relay task; the relay learns the client left when sends fail.
pub type ChannelStream =
    futures_util::stream::Map<ReceiverStream<Bytes>, fn(Bytes) -> Result<Frame<Bytes>, Infallible>>;

/// Every response body the gateway sends.
pub type ResponseBody = Either<Full<Bytes>, StreamBody<ChannelStream>>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Either::Left(Full::new(bytes.into()))
}

/// A streamed body and the sender that feeds it (bounded: a slow client slows the relay).
pub fn channel(capacity: usize) -> (mpsc::Sender<Bytes>, ResponseBody) {
    use futures_util::StreamExt;
    let (tx, rx) = mpsc::channel(capacity);
    let to_frame: fn(Bytes) -> Result<Frame<Bytes>, Infallible> = |b| Ok(Frame::data(b));
    let stream = ReceiverStream::new(rx).map(to_frame);
    (tx, Either::Right(StreamBody::new(stream)))
}
