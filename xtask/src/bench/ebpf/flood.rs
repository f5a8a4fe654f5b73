//! Part 1's traffic: two namespaces joined by a veth pair, a UDP flood between them (iperf3).

use super::*;

/// Two namespaces joined by a veth pair, an iperf3 server in one.
pub(super) struct Flood {
    tx: Netns,
    rx: Netns,
    server: Option<Child>,
}

impl Flood {
    pub(super) fn new() -> Result<Flood> {
        let tx = Netns::tagged("ebpf-tx");
        let rx = Netns::tagged("ebpf-rx");
        tx.veth_to("vtx", &rx, "vrx");
        tx.addr_add("vtx", &format!("{CLIENT}/24"));
        rx.addr_add("vrx", &format!("{SERVER}/24"));
        let mut cmd = rx.exec("iperf3");
        cmd.args(["-s", "-B", SERVER]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let server = cmd.spawn().context("starting the iperf3 server")?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(Flood { tx, rx, server: Some(server) })
    }

    /// One flood; returns the datagrams per second the server received.
    pub(super) fn run(&self) -> Result<Received> {
        let mut last = String::new();
        for _ in 0..3 {
            let mut cmd = self.tx.exec("iperf3");
            cmd.args(["-c", SERVER, "-B", CLIENT, "-u", "-l", "64", "-b", "0", "-t", &FLOOD_SECS.to_string(), "-J"]);
            let out = cmd::run(&mut cmd, Duration::from_secs(u64::from(FLOOD_SECS) + 30));
            let doc: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
            let sum = &doc["end"]["sum_received"];
            if let (Some(packets), Some(lost), Some(secs)) =
                (sum["packets"].as_f64(), sum["lost_packets"].as_f64(), sum["seconds"].as_f64())
            {
                if secs > 0.0 {
                    return Ok(Received { pps: (packets - lost) / secs, sent_pps: packets / secs });
                }
            }
            last = doc["error"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("exit {}, {}", out.status, out.stderr.trim()));
            // The server may not listen yet, or still be busy with the last test.
            std::thread::sleep(Duration::from_secs(1));
        }
        bail!("iperf3 gave no result: {last}")
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = (&self.tx, &self.rx);
    }
}

#[derive(Clone, Copy)]
pub(super) struct Received {
    pub(super) pps: f64,
    pub(super) sent_pps: f64,
}
