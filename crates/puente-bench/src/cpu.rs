//! CPU per intent, per process: utime + stime from `/proc/<pid>/stat` before
//! and after a phase (PostgreSQL: every process of the throwaway cluster, with
//! the backends that exited meanwhile; the load generator and the receiver
//! are this process, `/proc/self/stat`), divided by the intents the phase
//! completed. `/proc/stat` gives the whole machine's as a cross-check: what it
//! has beyond the sum is interrupt time not charged to a process (loopback
//! TCP's softirq) and other programs on the machine, and the context switches
//! per intent (every statement and message is a hand-off between threads).

use std::time::{Duration, Instant};

use crate::procs::{self, MachineCpu};
use crate::stack::Stack;

/// CPU counters of every process of a setup at one moment.
#[derive(Clone, Debug)]
pub struct CpuSnap {
    at: Instant,
    /// (name, ticks); `None` when the process was gone.
    procs: Vec<(String, Option<u64>)>,
    machine: MachineCpu,
}

pub const BENCH: &str = "load generator + receiver (puente-bench)";

impl CpuSnap {
    pub fn take(stack: &Stack) -> CpuSnap {
        let mut procs_v = vec![(
            BENCH.to_owned(),
            procs::cpu_ticks(std::process::id(), false),
        )];
        for (name, pid, tree) in stack.all_pids() {
            let label = match name.as_str() {
                "proxy" => "notification proxy (puente-bench proxy)".to_owned(),
                "postgresql" => "postgresql (all its processes)".to_owned(),
                "redis" => "redis".to_owned(),
                n => format!("puente {n}"),
            };
            procs_v.push((label, procs::cpu_ticks(pid, tree)));
        }
        CpuSnap {
            at: Instant::now(),
            procs: procs_v,
            machine: MachineCpu::read(),
        }
    }

    /// What happened between `before` and this snapshot, for `intents` intents.
    pub fn since(&self, before: &CpuSnap, intents: usize) -> CpuReport {
        let tck = procs::clk_tck();
        let mut rows = Vec::new();
        for (name, after) in &self.procs {
            let before = before
                .procs
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|x| x.1);
            if let (Some(a), Some(b)) = (after, before) {
                rows.push((name.clone(), a.saturating_sub(b) as f64 / tck));
            }
        }
        let m = self.machine.since(&before.machine);
        CpuReport {
            elapsed: self.at.duration_since(before.at),
            intents,
            rows,
            machine: m,
            tck,
        }
    }
}

/// CPU seconds per process over a phase, and per intent.
#[derive(Clone, Debug)]
pub struct CpuReport {
    pub elapsed: Duration,
    pub intents: usize,
    /// (process, CPU seconds)
    pub rows: Vec<(String, f64)>,
    pub machine: MachineCpu,
    tck: f64,
}

impl CpuReport {
    fn per_intent_ms(&self, secs: f64) -> f64 {
        if self.intents == 0 {
            f64::NAN
        } else {
            secs * 1000.0 / self.intents as f64
        }
    }

    pub fn processes_secs(&self) -> f64 {
        self.rows.iter().map(|r| r.1).sum()
    }

    /// CPU-ms per intent, summed over the setup's processes (and the bench's).
    pub fn total_ms(&self) -> f64 {
        self.per_intent_ms(self.processes_secs())
    }

    /// CPU-ms per intent from `/proc/stat` (every busy tick of the machine).
    pub fn machine_ms(&self) -> f64 {
        self.per_intent_ms(self.machine.busy() as f64 / self.tck)
    }

    /// Context switches per intent, whole machine (`/proc/stat`'s `ctxt`).
    pub fn switches_per_intent(&self) -> f64 {
        if self.intents == 0 {
            f64::NAN
        } else {
            self.machine.switches as f64 / self.intents as f64
        }
    }

    /// (process, ms per intent)
    pub fn per_process_ms(&self) -> Vec<(String, f64)> {
        self.rows
            .iter()
            .map(|(n, s)| (n.clone(), self.per_intent_ms(*s)))
            .collect()
    }

    /// The table, indented for the bench's progress output.
    pub fn print(&self, title: &str) {
        let el = self.elapsed.as_secs_f64();
        eprintln!(
            "  CPU per intent — {title}: {} intents over {:.1} s (the phase and its drain)",
            self.intents, el
        );
        eprintln!(
            "    {:<44} {:>9} {:>8} {:>12}",
            "process", "CPU s", "cores", "ms/intent"
        );
        for (name, secs) in &self.rows {
            eprintln!(
                "    {:<44} {:>9.2} {:>8.2} {:>12.3}",
                name,
                secs,
                secs / el,
                self.per_intent_ms(*secs)
            );
        }
        let total = self.processes_secs();
        eprintln!(
            "    {:<44} {:>9.2} {:>8.2} {:>12.3}",
            "total of these processes",
            total,
            total / el,
            self.total_ms()
        );
        let m = &self.machine;
        let s = |t: u64| t as f64 / self.tck;
        let busy = s(m.busy());
        eprintln!(
            "    {:<44} {:>9.2} {:>8.2} {:>12.3}",
            "whole machine, /proc/stat (busy)",
            busy,
            busy / el,
            self.machine_ms()
        );
        eprintln!(
            "      of which user {:.2} s, system {:.2} s, softirq {:.2} s, irq {:.2} s, steal {:.2} s; idle {:.2} s",
            s(m.user),
            s(m.system),
            s(m.softirq),
            s(m.irq),
            s(m.steal),
            s(m.idle)
        );
        eprintln!(
            "      context switches: {:.0} per intent, {:.0}/s",
            self.switches_per_intent(),
            m.switches as f64 / el
        );
        eprintln!(
            "    {:<44} {:>9.2} {:>8.2} {:>12.3}",
            "machine − processes (irq time, other programs)",
            busy - total,
            (busy - total) / el,
            self.per_intent_ms(busy - total)
        );
    }
}
