// A real HTTP server for the webhook and healthchecks tests (node:http on
// 127.0.0.1, free port) that keeps every request it got: method, path with
// query, headers, body. Modes: `ok` answers 200, `error` answers 500 (with a
// body the test may choose, e.g. one that echoes the request like some proxies
// do), `stall` reads the request and never answers. Stopped when the test ends.

import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMode = 'ok' | 'error' | 'stall';

export interface ReceivedRequest {
  method: string;
  /** Path and query, as requested. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  /** http://127.0.0.1:<port><path> */
  url(path?: string): string;
  port: number;
  mode: ReceiverMode;
  /** The body of a 500 answer; gets the request, so it can echo it. */
  errorBody: (request: ReceivedRequest) => string;
  requests: ReceivedRequest[];
}

export async function startWebhookReceiver(t: { after(fn: () => unknown): void }, mode: ReceiverMode = 'ok'): Promise<WebhookReceiver> {
  const stalled: ServerResponse[] = [];
  const receiver: WebhookReceiver = {
    url: (path = '/hook') => `http://127.0.0.1:${receiver.port}${path}`,
    port: 0,
    mode,
    errorBody: () => 'internal server error',
    requests: [],
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received: ReceivedRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      receiver.requests.push(received);
      switch (receiver.mode) {
        case 'ok':
          response.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
          return;
        case 'error':
          response.writeHead(500, { 'content-type': 'text/plain' }).end(receiver.errorBody(received));
          return;
        case 'stall':
          stalled.push(response);
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return receiver;
}
