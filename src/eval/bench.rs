//! `tandem bench model`: how fast the bot classifies messages, through the same batching
//! inference thread the server uses.
//!
//! Two figures: single-message latency (one request at a time, so no batching helps) and
//! throughput with `concurrency` requests in flight (what a busy server sees), each message
//! embedded, classified by the intent head and scored for out-of-scope.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::percentile;
use crate::bot::Brain;
use crate::model::{BatchConfig, Embedder, ModelError};

/// A realistic mix of customer messages (about 14 tokens on average).
const MESSAGES: &[&str] = &[
    "where is my package, it was supposed to arrive yesterday",
    "can I return a lamp I bought three weeks ago?",
    "hi there",
    "I want to talk to a real person please",
    "how much does shipping to Canada cost",
    "my card was charged twice for the same order",
    "I forgot my password and the reset email never came",
    "do you have the blue kettle back in stock",
    "this is the worst service I have ever had",
    "can I change the delivery address on my order",
    "thanks, that helped a lot",
    "what's the weather like in Paris today",
    "is there a warranty on the coffee grinder",
    "怎么退货",
    "how long does a refund take after you receive the return",
    "someone logged into my account and placed orders",
];

/// The same kinds of messages as Chinese customers write them (`--mix zh`): a Chinese message's
/// reply must be no slower than an English one's.
const MESSAGES_ZH: &[&str] = &[
    "我的快递昨天就该到了，现在到哪了",
    "三个星期前买的台灯还能退吗",
    "你好",
    "我要找人工客服",
    "寄到加拿大运费多少",
    "同一个订单扣了我两次钱",
    "密码忘了，重置邮件一直没收到",
    "蓝色的电水壶什么时候补货",
    "你们的服务太差了",
    "订单的收货地址能改吗",
    "谢谢，帮了大忙",
    "今天巴黎天气怎么样",
    "咖啡研磨机有保修吗",
    "退貨的錢幾天會到",
    "你们收到退货以后多久退款",
    "有人登录了我的账户还下了单",
];

/// Which messages `tandem bench model` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// English customer messages (one Chinese among them).
    En,
    /// Chinese customer messages (one in traditional characters).
    Zh,
}

impl Mix {
    fn messages(self) -> &'static [&'static str] {
        match self {
            Mix::En => MESSAGES,
            Mix::Zh => MESSAGES_ZH,
        }
    }
}

/// The figures `tandem bench model` prints.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Messages timed one at a time.
    pub single: usize,
    /// Single-message latency p50 and p99.
    pub single_p50: Duration,
    /// 99th percentile.
    pub single_p99: Duration,
    /// Requests in flight in the load phase.
    pub concurrency: usize,
    /// Messages classified in the load phase.
    pub loaded: usize,
    /// Messages per second in the load phase.
    pub throughput: f64,
    /// Latency p50 and p99 under load.
    pub loaded_p50: Duration,
    /// 99th percentile under load.
    pub loaded_p99: Duration,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(
            f,
            "single message     {} messages, one at a time",
            self.single
        )?;
        writeln!(f, "  latency p50      {:.2} ms", ms(self.single_p50))?;
        writeln!(f, "  latency p99      {:.2} ms", ms(self.single_p99))?;
        writeln!(
            f,
            "concurrent         {} requests in flight",
            self.concurrency
        )?;
        writeln!(
            f,
            "  throughput       {:.0} messages/s ({} messages)",
            self.throughput, self.loaded
        )?;
        writeln!(f, "  latency p50      {:.2} ms", ms(self.loaded_p50))?;
        write!(f, "  latency p99      {:.2} ms", ms(self.loaded_p99))
    }
}

async fn classify(embedder: &Embedder, brain: &Brain, text: &str) -> Result<Duration, ModelError> {
    let started = Instant::now();
    let embedding = embedder.embed(text).await?;
    brain.understand(text, &embedding)?;
    Ok(started.elapsed())
}

/// Runs the benchmark: `single` sequential messages, then `concurrency` concurrent clients for
/// `duration`.
pub async fn run(
    embedder: Embedder,
    brain: Arc<Brain>,
    mix: Mix,
    single: usize,
    concurrency: usize,
    duration: Duration,
) -> Result<BenchReport, ModelError> {
    let messages = mix.messages();
    for text in messages {
        classify(&embedder, &brain, text).await?;
    }
    let mut latencies = Vec::with_capacity(single);
    for i in 0..single {
        latencies.push(classify(&embedder, &brain, messages[i % messages.len()]).await?);
    }
    let (single_p50, single_p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));

    let started = Instant::now();
    let deadline = started + duration;
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..concurrency.max(1) {
        let (embedder, brain) = (embedder.clone(), Arc::clone(&brain));
        clients.spawn(async move {
            let mut latencies = Vec::new();
            let mut i = client;
            while Instant::now() < deadline {
                let text = messages[i % messages.len()];
                latencies.push(classify(&embedder, &brain, text).await?);
                i += 1;
            }
            Ok::<_, ModelError>(latencies)
        });
    }
    let mut loaded = Vec::new();
    while let Some(result) = clients.join_next().await {
        let latencies = result.map_err(|e| ModelError::Inference(e.to_string()))??;
        loaded.extend(latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(BenchReport {
        single,
        single_p50,
        single_p99,
        concurrency,
        loaded: loaded.len(),
        throughput: loaded.len() as f64 / elapsed,
        loaded_p50: percentile(&loaded, 50.0),
        loaded_p99: percentile(&loaded, 99.0),
    })
}

/// The batching settings the server uses, for the benchmark to measure the same thing.
pub fn server_batching() -> BatchConfig {
    BatchConfig::default()
}
