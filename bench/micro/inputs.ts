// Message heads for the parser benchmark, as a browser, an API client and an origin send them.

const CRLF = "\r\n";

function head(lines: string[]): Uint8Array {
  return new TextEncoder().encode(lines.join(CRLF) + CRLF + CRLF);
}

/** A browser's page request: 11 header fields. */
export const BROWSER_GET = head([
  "GET /articles/2026/streaming-parsers?ref=home HTTP/1.1",
  "Host: www.example.com",
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "Accept-Language: en-US,en;q=0.9",
  "Accept-Encoding: gzip, deflate, br, zstd",
  "Referer: https://www.example.com/",
  "Cookie: session=5f2b9c0e8a7d4e1f9b3c6a2d0e4f8b1c; theme=dark; consent=1",
  "Connection: keep-alive",
  "Upgrade-Insecure-Requests: 1",
  "Sec-Fetch-Dest: document",
  "Sec-Fetch-Mode: navigate",
]);

/** An API client's request: 20 header fields, no body. */
export const API_REQUEST = head([
  "GET /v2/accounts/81723/transactions?limit=50&cursor=eyJpZCI6MTIzNDV9 HTTP/1.1",
  "Host: api.example.com",
  "User-Agent: example-sdk-go/3.14.1",
  "Accept: application/json",
  "Accept-Encoding: gzip",
  "Accept-Language: en",
  "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI4MTcyMyJ9.c2lnbmF0dXJlLXBsYWNlaG9sZGVy",
  "X-Request-Id: 0f8e6c52-3a91-4d7b-9b0c-5e2f1a7d3c44",
  "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  "Tracestate: vendor=opaque",
  "X-Api-Version: 2026-10-01",
  "X-Client-Region: eu-west-1",
  "X-Forwarded-For: 203.0.113.7",
  "X-Forwarded-Proto: https",
  "Cache-Control: no-cache",
  "If-None-Match: \"a3f5c9\"",
  "Idempotency-Key: 7c1e0b8f-2d4a-4f6e-8a93-1b5c7d9e0f21",
  "Content-Type: application/json",
  "X-Feature-Flags: ledger-v2,fast-pagination",
  "Priority: u=1",
  "Connection: keep-alive",
]);

/** An origin's response without a body (204), so that each parser reads the same bytes. */
export const RESPONSE_HEAD = head([
  "HTTP/1.1 204 No Content",
  "Date: Fri, 04 Dec 2026 18:00:00 GMT",
  "Server: origin/1.0",
  "Cache-Control: private, max-age=0, no-cache",
  "Vary: Accept-Encoding, Authorization",
  "X-Request-Id: 0f8e6c52-3a91-4d7b-9b0c-5e2f1a7d3c44",
  "X-Ratelimit-Limit: 1000",
  "X-Ratelimit-Remaining: 998",
  "Strict-Transport-Security: max-age=31536000",
  "Access-Control-Allow-Origin: https://www.example.com",
  "Connection: keep-alive",
]);
