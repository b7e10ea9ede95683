// The load generator: the official socket.io-client (websocket transport) and Node's HTTP client, driven by a
// JSON config on the first line of stdin; prints JSON lines on stdout, the last one being the result.
//
// mode "deliver": connect and join receivers, then POST messages open-loop at a fixed rate (each message's
//   latency counts from the moment it was *scheduled*, so a slow server cannot slow the sender down and hide
//   its own queueing: no coordinated omission), and time every `new_message` each receiver gets.
// mode "idle": open websocket connections in steps, from several 127.0.0.x source addresses; after each step
//   print {"step": ...} and wait for "go" on stdin (the orchestrator samples the server meanwhile).
import http from "node:http";
import readline from "node:readline";
import { io } from "socket.io-client";

const lines = readline.createInterface({ input: process.stdin });
const pending = [];
const waiters = [];
lines.on("line", (line) => (waiters.length ? waiters.shift()(line) : pending.push(line)));
const nextLine = () => new Promise((resolve) => (pending.length ? resolve(pending.shift()) : waiters.push(resolve)));

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const log = (...args) => process.stderr.write(`loadgen: ${args.join(" ")}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6; // monotonic milliseconds
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentiles(values) {
  if (!values.length) return { count: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (v) => Math.round(v * 1000) / 1000;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    p999: round(at(0.999)),
    max: round(sorted[sorted.length - 1]),
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

function connect(url, token, extra = {}) {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      path: "/socket.io",
      transports: ["websocket"],
      auth: { token },
      forceNew: true, // one connection per client, never multiplexed
      reconnection: false,
      timeout: 30000,
      ...extra,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

async function limited(tasks, concurrency) {
  const results = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await tasks[i]() };
      } catch (error) {
        results[i] = { ok: false, error: String(error && error.message) };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

async function deliver(cfg) {
  const rate = cfg.rate;
  const duration = cfg.duration * 1000;
  const warmup = (cfg.warmup ?? 2) * 1000;
  const total = Math.round((rate * (duration + warmup)) / 1000);
  const scheduled = new Float64Array(total);
  const roomOf = new Array(total);
  const deliveries = []; // latencies (ms) of deliveries of measured messages
  const perRoom = new Map(); // room_id -> number of receivers
  let delivered = 0;
  let measuredDelivered = 0;
  let strays = 0;
  let duplicates = 0;
  let closing = false;
  const disconnects = [];
  const bySender = new Map(); // "<token>|<room_id>" -> that member's socket, for send_via "socket"
  let startAt = Infinity; // set when sending starts

  // 1. receivers: connect and join, concurrency-limited.
  const t0 = now();
  const connected = await limited(
    cfg.receivers.map((r) => async () => {
      const socket = await connect(r.url, r.token);
      const ack = await socket.timeout(30000).emitWithAck("join_room", { room_id: r.room_id });
      if (!ack || !ack.ok) throw new Error(`join_room refused: ${JSON.stringify(ack)}`);
      const seen = new Uint8Array(total); // exactly once: a second delivery of k to this socket is a duplicate
      socket.on("new_message", (data) => {
        const at = now();
        const k = Number(String(data.message.content).slice(6)); // "bench <k>"
        if (!(k >= 0 && k < total) || roomOf[k] !== data.room_id) return void strays++;
        if (seen[k]++) return void duplicates++;
        delivered++;
        if (scheduled[k] >= startAt + warmup) {
          measuredDelivered++;
          deliveries.push(at - scheduled[k]);
        }
      });
      socket.on("disconnect", (reason) => {
        if (!closing) disconnects.push(reason);
      });
      perRoom.set(r.room_id, (perRoom.get(r.room_id) || 0) + 1);
      bySender.set(`${r.token}|${r.room_id}`, socket);
      return socket;
    }),
    cfg.connect_concurrency ?? 100,
  );
  const failed = connected.filter((c) => !c.ok);
  if (failed.length) {
    out({ error: `${failed.length} receivers failed to connect: ${failed[0].error}` });
    process.exit(1);
  }
  const sockets = connected.map((c) => c.value);
  const connectMs = Math.round(now() - t0);
  log(`${sockets.length} receivers connected and joined in ${connectMs} ms`);
  out({ joined: sockets.length, connect_ms: connectMs }); // bench/connect.py reads the server's CPU here
  await sleep(500);

  // 2. open-loop sender.
  const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.http_connections ?? 64 });
  const { urls, tokens, rooms } = cfg.senders;
  const httpLatency = [];
  const statuses = {};
  let answered = 0;
  const cpuStart = process.cpuUsage();
  startAt = now() + 50;
  for (let k = 0; k < total; k++) {
    scheduled[k] = startAt + (k * 1000) / rate;
    roomOf[k] = rooms[k % rooms.length];
  }
  let sent = 0;
  out({ sending: sockets.length });
  const viaSocket = cfg.send_via === "socket";
  function emit(k) {
    const socket = bySender.get(`${tokens[k % tokens.length]}|${roomOf[k]}`);
    const body = { room_id: roomOf[k], content: `bench ${k}`, client_id: `bench-${k}` };
    socket
      .timeout(30000)
      .emitWithAck("send_message", body)
      .then(
        (ack) => {
          const key = ack && ack.ok ? "ack:ok" : `ack:${ack && ack.error ? ack.error.code : "bad"}`;
          statuses[key] = (statuses[key] || 0) + 1;
          if (scheduled[k] >= startAt + warmup) httpLatency.push(now() - scheduled[k]);
        },
        () => (statuses["ack:timeout"] = (statuses["ack:timeout"] || 0) + 1),
      )
      .finally(() => answered++);
  }
  function post(k) {
    if (viaSocket) return emit(k);
    const url = new URL("/api/chat/messages", urls[k % urls.length]);
    const body = JSON.stringify({ room_id: roomOf[k], content: `bench ${k}` });
    const req = http.request(url, {
      method: "POST",
      agent,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${tokens[k % tokens.length]}`,
      },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => {
        answered++;
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
        if (scheduled[k] >= startAt + warmup) httpLatency.push(now() - scheduled[k]);
      });
    });
    req.on("error", (err) => {
      answered++;
      statuses[err.code || "error"] = (statuses[err.code || "error"] || 0) + 1;
    });
    req.end(body);
  }
  const progress = cfg.progress_every
    ? setInterval(
        () => out({ progress: Math.round((now() - startAt) / 1000), sent, answered, delivered, duplicates,
                    disconnects: disconnects.length }),
        cfg.progress_every * 1000,
      )
    : null;
  await new Promise((resolve) => {
    const tick = () => {
      const t = now();
      while (sent < total && scheduled[sent] <= t) post(sent++);
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, scheduled[sent] - now())));
      else resolve();
    };
    tick();
  });
  const sendEnd = now();
  const cpu = process.cpuUsage(cpuStart);
  // 3. drain: wait for the answers and deliveries still in flight.
  const expected = Array.from(roomOf).reduce((n, room) => n + (perRoom.get(room) || 0), 0);
  const drainUntil = now() + (cfg.drain ?? 10) * 1000;
  while ((answered < total || delivered < expected) && now() < drainUntil) await sleep(20);
  if (progress) clearInterval(progress);
  closing = true;
  for (const s of sockets) s.close();
  agent.destroy();

  const measured = Array.from(roomOf).filter((_, k) => scheduled[k] >= startAt + warmup);
  const measuredExpected = measured.reduce((n, room) => n + (perRoom.get(room) || 0), 0);
  const window = (sendEnd - (startAt + warmup)) / 1000;
  return {
    rate,
    duration: cfg.duration,
    receivers: sockets.length,
    messages: total,
    measured_messages: measured.length,
    statuses,
    http: percentiles(httpLatency),
    delivery: percentiles(deliveries),
    deliveries_expected: measuredExpected,
    deliveries_received: measuredDelivered,
    deliveries_missing: measuredExpected - measuredDelivered,
    all_missing: expected - delivered,
    duplicates,
    disconnects: disconnects.length,
    disconnect_reasons: [...new Set(disconnects)].slice(0, 5),
    strays,
    deliveries_per_second: Math.round(measuredDelivered / window),
    achieved_rate: Math.round((measured.length / window) * 10) / 10,
    generator_cpu: Math.round(((cpu.user + cpu.system) / 1000 / (sendEnd - startAt)) * 1000) / 1000,
  };
}

async function idle(cfg) {
  const addresses = cfg.local_addresses ?? ["127.0.0.1"];
  const sockets = [];
  let failures = 0;
  const steps = [];
  const cpuStart = process.cpuUsage();
  while (sockets.length < cfg.total) {
    const want = Math.min(cfg.step, cfg.total - sockets.length);
    const base = sockets.length;
    const t = now();
    const results = await limited(
      Array.from({ length: want }, (_, i) => () =>
        connect(cfg.url, cfg.tokens[(base + i) % cfg.tokens.length], { localAddress: addresses[(base + i) % addresses.length] }),
      ),
      cfg.connect_concurrency ?? 200,
    );
    const elapsed = now() - t;
    const ok = results.filter((r) => r.ok).map((r) => r.value);
    const bad = results.filter((r) => !r.ok);
    sockets.push(...ok);
    failures += bad.length;
    for (const s of ok) s.on("disconnect", (reason) => (s.lostReason = reason));
    const step = {
      step: steps.length + 1,
      connected: sockets.filter((s) => s.connected).length,
      attempted: want,
      failed: bad.length,
      first_error: bad.length ? bad[0].error : null,
      connects_per_second: Math.round((ok.length / elapsed) * 1000),
    };
    steps.push(step);
    out(step);
    if (bad.length > want * 0.01) break; // failing: this is the ceiling
    if ((await nextLine()) !== "go") break;
  }
  // hold: the orchestrator measures idle CPU and memory, then says "go" once more
  out({ holding: sockets.filter((s) => s.connected).length });
  await nextLine();
  const held = sockets.filter((s) => s.connected).length;
  const lost = sockets.filter((s) => !s.connected).map((s) => s.lostReason);
  const cpu = process.cpuUsage(cpuStart);
  for (const s of sockets) s.close();
  return {
    steps,
    held,
    failures,
    lost: lost.length,
    lost_reasons: [...new Set(lost)].slice(0, 5),
    generator_cpu_seconds: (cpu.user + cpu.system) / 1e6,
  };
}

const cfg = JSON.parse(await nextLine());
const result = cfg.mode === "idle" ? await idle(cfg) : await deliver(cfg);
out({ result });
process.exit(0);
