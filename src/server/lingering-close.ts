import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long, and how much of, a refused body is still read (and thrown away) before its connection closes. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 16 * 1024 * 1024;

/**
 * Makes this answer the connection's last (`connection: close`) for a request whose body the server will not
 * read (413), and closes the connection gracefully. Node closes such a socket as soon as the answer is
 * written; if the client is still sending its body then, the kernel answers the unread bytes with a reset,
 * and the client may lose the 413 and see EPIPE or ECONNRESET instead (about one request in five with a
 * declared over-limit content-length on loopback; the chaos suite's rest-input case). So the socket
 * half-closes after the answer and keeps reading and discarding for a moment (a lingering close, as nginx
 * does), bounded in time and bytes, before it is destroyed.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  const socket = req.socket;
  // Node calls destroySoon once a `connection: close` answer is written (http server resOnFinish).
  socket.destroySoon = () => {
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    let read = 0;
    req.on('data', (c: Buffer) => {
      read += c.length;
      if (read > LINGER_BYTES) socket.destroy();
    });
    req.on('error', () => undefined);
    // FIN after the answer: the client reads the 413 and stops sending; its own close ends the linger.
    socket.end();
    req.resume();
    socket.resume();
  };
}
