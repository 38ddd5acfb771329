import { request } from 'node:http';

export interface ChunkedResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Sends `total` bytes of spaces as a chunked body (no content-length) to 127.0.0.1:`port`, honouring
 * back-pressure and stopping as soon as a response arrives; resolves with that response.
 */
export function postChunked(port: number, path: string, total: number): Promise<ChunkedResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } });
    let sent = 0;
    let stopped = false;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!stopped && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!stopped) req.end();
    };
    req.on('response', (res) => {
      stopped = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    pump();
  });
}
