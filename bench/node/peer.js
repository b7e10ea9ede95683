// The peer Armada is measured against: a minimal Node socket.io 4.8 server that relays the same events with
// no database and no authentication, i.e. the practical limit of a Socket.IO chat relay on this machine.
//
// It speaks the subset of Armada's wire contract the benchmarks use: GET /api/health, POST /api/chat/messages
// (answers 201 with a message shaped like Armada's and emits `new_message {room_id, message}` to the room),
// and the socket events `connected` and `join_room` (acknowledged with {ok: true}; `room_joined` to the caller,
// `user_joined` to the room's others).
// With REDIS_URL set it uses the official Redis adapter, like Armada's Redis message queue across processes.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 8000);

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/api/health") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end('{"status":"ok"}');
  }
  if (req.method === "POST" && req.url === "/api/chat/messages") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        return res.end('{"error":{"code":"bad_request","message":"Body is not JSON."}}');
      }
      const message = {
        id: randomUUID(),
        room_id: body.room_id,
        sender_id: randomUUID(),
        message_type: "text",
        content: body.content ?? null,
        media_url: null,
        thumbnail_url: null,
        media_filename: null,
        media_size: null,
        media_mime_type: null,
        reply_to_id: null,
        reply_to: null,
        forwarded_from_id: null,
        is_edited: false,
        edited_at: null,
        is_deleted: false,
        deleted_at: null,
        created_at: new Date().toISOString(),
        client_id: body.client_id ?? null,
      };
      io.to(`room:${body.room_id}`).emit("new_message", { room_id: body.room_id, message });
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify(message));
    });
    return;
  }
  // Leave /socket.io to engine.io; anything else is a 404.
  if (!req.url.startsWith("/socket.io")) {
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"error":{"code":"not_found","message":"Not found."}}');
  }
});

const io = new Server(server, { path: "/socket.io", serveClient: false, cors: { origin: "*" } });

if (process.env.REDIS_URL) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: process.env.REDIS_CHANNEL || "socket.io" }));
}

io.on("connection", (socket) => {
  socket.data.userId = randomUUID();
  socket.emit("connected", { user_id: socket.data.userId });
  socket.on("join_room", (data, ack) => {
    const room = `room:${data.room_id}`;
    socket.join(room);
    socket.emit("room_joined", { room_id: data.room_id });
    // As Armada does: the room's other sockets hear of the join (a room of N joining costs N²/2 deliveries).
    socket.to(room).emit("user_joined", { room_id: data.room_id, user_id: socket.data.userId });
    if (typeof ack === "function") ack({ ok: true });
  });
});

server.listen(port, "127.0.0.1");
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
