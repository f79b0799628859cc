//! Subscription fan-out: how long from a post until every subscriber of the chat has the
//! message, for 1 to 10 000 subscriptions on one chat (in-process broker, SQLite store).
//!
//! Each round posts one message and waits until every subscription has yielded it; the
//! next round starts only then, so rounds measure latency, not queueing. Reported per
//! subscriber count: post call → last subscriber (p50, p99), commit acknowledged → last
//! subscriber (p50), and deliveries per second over the rounds.
//!
//! ```text
//! cargo run --release -p benches --bin fanout -- [--subscribers 1,100,1000,10000] [--rounds 200]
//! ```

use benches::{Backend, BenchCore, Percentiles, arg, create_users, list_arg, ms};
use chatcore::model::{Event, NewChat, NewMessage};
use chatcore::{Config, Subscription};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let counts: Vec<usize> = list_arg("--subscribers", &[1, 100, 1000, 10_000]);
    let rounds: usize = arg("--rounds").map_or(200, |v| v.parse().expect("--rounds"));
    let sqlite_dir = arg("--sqlite-dir").map_or_else(std::env::temp_dir, Into::into);

    println!(
        "# fan-out: {rounds} posts per row, one at a time, {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| subscribers | post → last delivered p50 ms | p99 ms | commit → last delivered p50 ms | deliveries/s |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in &counts {
        let row = measure(&Backend::Sqlite(sqlite_dir.clone()), n, rounds).await?;
        println!("{row}");
    }
    Ok(())
}

async fn measure(
    backend: &Backend,
    subscribers: usize,
    rounds: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    // The broker buffer must hold a round's event for the slowest subscriber; one event per
    // round is in flight, so the default is plenty.
    let bench = BenchCore::open(backend, Config::for_tests()).await?;
    let core = bench.core();
    let (admin, users) = create_users(core, "member", 1).await?;
    let poster = &users[0];
    let chat = core
        .membership()
        .create_chat(
            &admin,
            NewChat {
                name: "fan-out".into(),
                participants: vec![poster.id()],
            },
        )
        .await?
        .id;

    // Subscriptions are the admin's (an admin may follow any chat), which spares creating
    // thousands of accounts; the delivery path is the same for members.
    let (receipts, mut delivered) = mpsc::unbounded_channel::<(i64, Instant)>();
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let subscription = core.messaging().subscribe(&admin, chat, None).await?;
        tasks.push(tokio::spawn(follow(subscription, receipts.clone(), rounds)));
    }
    drop(receipts);

    let mut post_to_last = Vec::with_capacity(rounds);
    let mut commit_to_last = Vec::with_capacity(rounds);
    let started = Instant::now();
    for round in 1..=rounds {
        let posted_at = Instant::now();
        let posted = core
            .messaging()
            .post(
                poster,
                chat,
                NewMessage {
                    content: format!("fan-out round {round}"),
                    client_id: None,
                },
            )
            .await?;
        let acknowledged_at = Instant::now();
        let seq = posted.message.seq;
        let mut last = acknowledged_at;
        for _ in 0..subscribers {
            let (got_seq, at) = tokio::time::timeout(Duration::from_secs(10), delivered.recv())
                .await
                .map_err(|_| format!("round {round}: not every subscriber got seq {seq} in 10 s"))?
                .ok_or("every subscription ended early")?;
            if got_seq != seq {
                return Err(format!("expected seq {seq}, a subscriber got {got_seq}").into());
            }
            last = last.max(at);
        }
        post_to_last.push(last - posted_at);
        commit_to_last.push(last.saturating_duration_since(acknowledged_at));
    }
    let total = started.elapsed();
    for task in tasks {
        task.await??;
    }
    bench.shutdown().await;

    let post = Percentiles::of(&mut post_to_last);
    let commit = Percentiles::of(&mut commit_to_last);
    let rate = (subscribers * rounds) as f64 / total.as_secs_f64();
    Ok(format!(
        "| {subscribers} | {} | {} | {} | {rate:.0} |",
        ms(post.p50),
        ms(post.p99),
        ms(commit.p50)
    ))
}

/// Reads `rounds` message events and reports when each arrived.
async fn follow(
    mut subscription: Subscription,
    receipts: mpsc::UnboundedSender<(i64, Instant)>,
    rounds: usize,
) -> Result<(), String> {
    let mut seen = 0;
    while seen < rounds {
        let Some(event) = subscription.next().await else {
            return Err("subscription ended".into());
        };
        let at = Instant::now();
        match event.event() {
            Event::Message(m) => {
                seen += 1;
                let _ = receipts.send((m.message.seq, at));
            }
            Event::Lagged { last_seq, .. } => {
                return Err(format!("subscriber lagged at seq {last_seq}"));
            }
            _ => {}
        }
    }
    Ok(())
}
