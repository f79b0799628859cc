//! Subscription fan-out: how long from a post until every subscriber of the chat has the
//! message, for 1 to 10 000 subscriptions on one chat (in-process broker, SQLite store).
//!
//! Each round posts one message and waits until every subscription has yielded it; the
//! next round starts only then, so rounds measure latency, not queueing. Reported per
//! subscriber count, from the start of the post call: until the post returns (committed),
//! until the first and the last subscriber has the message, and deliveries per second
//! over the rounds (lockstep, so bounded by the round latency).
//!
//! ```text
//! cargo run --release -p benches --bin fanout -- [--subscribers 1,100,1000,10000] [--rounds 200]
//! ```

use benches::{
    Backend, BenchCore, BoxError, Percentiles, arg, create_users, list_arg, load_average, machine,
    ms, sqlite_dir_arg,
};
use chatcore::model::{Event, NewChat, NewMessage};
use chatcore::{Config, Subscription};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The synopsis `--help` prints.
const USAGE: &str = "fanout [--subscribers 1,100,1000,10000] [--rounds 200] [--sqlite-dir /tmp]";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    benches::help(USAGE);
    let counts: Vec<usize> = list_arg("--subscribers", &[1, 100, 1000, 10_000]);
    let rounds: usize = arg("--rounds").map_or(200, |v| v.parse().expect("--rounds"));
    let sqlite_dir = sqlite_dir_arg();

    println!(
        "# fan-out: {rounds} posts per row, one at a time, {}\n",
        machine()
    );
    println!(
        "| subscribers | post → ack p50 ms | post → first delivered p50 ms | post → last delivered p50 ms | p99 ms | deliveries/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &n in &counts {
        let row = measure(&Backend::Sqlite(sqlite_dir.clone()), n, rounds).await?;
        println!("{row}");
    }
    println!("\nload average after: {}", load_average());
    Ok(())
}

/// The table row of `subscribers` subscriptions on one chat over `rounds` posts.
async fn measure(backend: &Backend, subscribers: usize, rounds: usize) -> Result<String, BoxError> {
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

    let mut to_ack = Vec::with_capacity(rounds);
    let mut to_first = Vec::with_capacity(rounds);
    let mut to_last = Vec::with_capacity(rounds);
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
        to_ack.push(posted_at.elapsed());
        let seq = posted.message.seq;
        let (mut first, mut last) = (None::<Instant>, posted_at);
        for _ in 0..subscribers {
            let (got_seq, at) = tokio::time::timeout(Duration::from_secs(10), delivered.recv())
                .await
                .map_err(|_| format!("round {round}: not every subscriber got seq {seq} in 10 s"))?
                .ok_or("every subscription ended early")?;
            if got_seq != seq {
                return Err(format!("expected seq {seq}, a subscriber got {got_seq}").into());
            }
            first = Some(first.map_or(at, |f| f.min(at)));
            last = last.max(at);
        }
        to_first.push(first.map_or(Duration::ZERO, |f| f - posted_at));
        to_last.push(last - posted_at);
    }
    let total = started.elapsed();
    for task in tasks {
        task.await??;
    }
    bench.shutdown().await;

    let ack = Percentiles::of(&mut to_ack);
    let first = Percentiles::of(&mut to_first);
    let last = Percentiles::of(&mut to_last);
    let rate = (subscribers * rounds) as f64 / total.as_secs_f64();
    Ok(format!(
        "| {subscribers} | {} | {} | {} | {} | {rate:.0} |",
        ms(ack.p50),
        ms(first.p50),
        ms(last.p50),
        ms(last.p99),
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
