use std::collections::HashSet;
use std::pin::Pin;

use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use whetstone_proto::convert::capability_from_wire;
use whetstone_proto::job::{GradeReport, Report, RunReport, SolveReport};
use whetstone_proto::pb;
use whetstone_proto::pb::worker_message::Kind;

use super::Services;
use crate::grading::verify_signature;
use crate::scheduler::{Event, SchedulerHandle};

/// More than this is a misconfiguration, not a bigger machine.
const MAX_CAPACITY: u32 = 256;

type CoordinatorStream = Pin<Box<dyn Stream<Item = Result<pb::CoordinatorMessage, Status>> + Send>>;

#[tonic::async_trait]
impl pb::worker_server::Worker for Services {
    type ConnectStream = CoordinatorStream;

    async fn connect(&self, request: Request<Streaming<pb::WorkerMessage>>) -> Result<Response<Self::ConnectStream>, Status> {
        let (metadata, _, mut inbound) = request.into_parts();
        let hello = match inbound.message().await? {
            Some(pb::WorkerMessage { kind: Some(Kind::Hello(hello)) }) => hello,
            _ => return Err(Status::invalid_argument("the first message of a worker session must be a hello")),
        };
        if hello.worker_id.is_empty() {
            return Err(Status::invalid_argument("hello.worker_id is empty"));
        }
        let capabilities: HashSet<_> = hello.capabilities.iter().filter_map(|c| capability_from_wire(*c)).collect();
        if capabilities.is_empty() {
            return Err(Status::invalid_argument("hello names no capability (RUN_AGENT or GRADE)"));
        }
        if hello.capacity == 0 || hello.capacity > MAX_CAPACITY {
            return Err(Status::invalid_argument(format!("hello.capacity must be 1 to {MAX_CAPACITY}")));
        }
        if hello.active_job_ids.len() > MAX_CAPACITY as usize {
            return Err(Status::invalid_argument(format!("hello.active_job_ids names more than {MAX_CAPACITY} jobs")));
        }
        let hotkey = self.auth.worker(&metadata, &hello, &capabilities)?;
        if hello.hotkey != hotkey.as_str() {
            return Err(Status::invalid_argument(format!("hello.hotkey is {:?} but the hello is signed by {hotkey}", hello.hotkey)));
        }
        tracing::info!(worker = %hello.worker_id, %hotkey, "worker authenticated");

        let (sender, receiver) = mpsc::channel(256);
        let welcome = pb::Welcome { heartbeat_interval_ms: self.config.heartbeat_ms, lease_duration_ms: self.config.lease_secs * 1000 };
        let message = pb::CoordinatorMessage { kind: Some(pb::coordinator_message::Kind::Welcome(welcome)) };
        sender.send(Ok(message)).await.map_err(|_| Status::unavailable("session closed"))?;

        let (reply, session) = oneshot::channel();
        let worker_id = hello.worker_id.clone();
        let connected = Event::Connected {
            worker_id: worker_id.clone(),
            hotkey,
            capabilities,
            capacity: hello.capacity,
            active: hello.active_job_ids,
            sender,
            reply,
        };
        self.scheduler.send(connected).await;
        let session = session.await.map_err(|_| Status::unavailable("coordinator is shutting down"))?;
        tokio::spawn(read_session(inbound, worker_id, session, self.scheduler.clone()));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// Forwards a worker's messages to the scheduler until the stream ends or the scheduler stops.
/// Stopping with the scheduler drops the inbound stream, which resets it: a worker that keeps
/// its side open must not hold the server's graceful shutdown forever.
async fn read_session(mut inbound: Streaming<pb::WorkerMessage>, worker_id: String, session: u64, scheduler: SchedulerHandle) {
    loop {
        let message = tokio::select! {
            () = scheduler.stopped() => return,
            message = inbound.message() => message,
        };
        let message = match message {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                tracing::info!(worker = %worker_id, %status, "worker stream ended with an error");
                break;
            }
        };
        let event = match message.kind {
            Some(Kind::Heartbeat(beat)) => Some(Event::Heartbeat { worker_id: worker_id.clone(), active: beat.active_job_ids }),
            Some(Kind::RunReport(report)) => match RunReport::try_from(report) {
                Ok(report) => Some(Event::Report { worker_id: worker_id.clone(), report: Report::Run(report), signature: None }),
                Err(error) => {
                    tracing::warn!(worker = %worker_id, %error, "dropping a malformed run report");
                    None
                }
            },
            Some(Kind::GradeReport(report)) => match GradeReport::try_from(report) {
                Ok(report) => {
                    // Verified here, on this session's task, not in the scheduler's one loop.
                    let signature = Some(Box::new(verify_signature(&report)));
                    Some(Event::Report { worker_id: worker_id.clone(), report: Report::Grade(report), signature })
                }
                Err(error) => {
                    tracing::warn!(worker = %worker_id, %error, "dropping a malformed grade report");
                    None
                }
            },
            Some(Kind::SolveReport(report)) => match SolveReport::try_from(report) {
                Ok(report) => Some(Event::Report { worker_id: worker_id.clone(), report: Report::Solve(report), signature: None }),
                Err(error) => {
                    tracing::warn!(worker = %worker_id, %error, "dropping a malformed solve report");
                    None
                }
            },
            Some(Kind::SolveProgress(progress)) => {
                Some(Event::SolveProgress { worker_id: worker_id.clone(), solve_id: progress.solve_id, lines: progress.lines })
            }
            Some(Kind::Hello(_)) | None => None,
        };
        if let Some(event) = event {
            scheduler.send(event).await;
        }
    }
    scheduler.send(Event::Disconnected { worker_id, session }).await;
}
