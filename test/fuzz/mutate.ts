/** Seed messages the fuzzer mutates: valid ones and near misses of the framing rules. */
export const REQUEST_SEEDS = [
  "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
  "GET /path?q=1 HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nUser-Agent: fuzz\r\n\r\n",
  "POST /u HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello",
  "POST /u HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  "POST /u HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d\\\"e\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
  "PUT /f HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
  "POST /a HTTP/1.1\r\nHost: a.test\r\nContent-Length: 26\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nX: y",
  "GET http://b.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "DELETE /r HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n21\r\nGET /x HTTP/1.1\r\nHost: p.test\r\n\r\n\r\n0\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
];

export const RESPONSE_SEEDS = [
  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=1\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
  "HTTP/1.1 204 No Content\r\n\r\n",
  "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world",
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nbody",
  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
];

/** Fragments that touch the framing rules, spliced into inputs. */
const FRAGMENTS = [
  "\r\n", "\n", "\r", " ", "\t", ":", ",", ";", "=", "\"", "\\", "0", "5", "a", "f", "x", "-", "+",
  "\x00", "\x0b", "\x0c", "\x7f", "\x80", "\xff", "Content-Length: ", "Transfer-Encoding: ",
  "chunked", "identity", "gzip", ", chunked", "Host: ", "HTTP/1.1", "HTTP/1.0", "\r\n\r\n",
  "0\r\n\r\n", "Connection: close", "Expect: 100-continue", "Upgrade: websocket", " \r\n",
  "9007199254740993", "ffffffffffffffff", "Content-Length: 0\r\n",
];

/** mulberry32: a small seeded generator, so a failing input can be regenerated from its seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Applies one to four random edits to `input` (Latin-1 text, one character per byte). */
export function mutate(input: string, next: () => number): string {
  let text = input;
  const pick = (limit: number) => Math.floor(next() * limit);
  const edits = 1 + pick(4);
  for (let i = 0; i < edits; i++) {
    const at = pick(text.length + 1);
    switch (pick(7)) {
      case 0: // replace one byte with a random one
        text = text.slice(0, at) + String.fromCharCode(pick(256)) + text.slice(at + 1);
        break;
      case 1: // insert a fragment
        text = text.slice(0, at) + FRAGMENTS[pick(FRAGMENTS.length)] + text.slice(at);
        break;
      case 2: // delete a run of bytes
        text = text.slice(0, at) + text.slice(at + 1 + pick(4));
        break;
      case 3: { // repeat a line
        const lines = text.split("\r\n");
        const line = pick(lines.length);
        lines.splice(line, 0, lines[line]);
        text = lines.join("\r\n");
        break;
      }
      case 4: { // change the case of a byte
        const character = text.charAt(at);
        const swapped = character === character.toLowerCase() ? character.toUpperCase() : character.toLowerCase();
        text = text.slice(0, at) + swapped + text.slice(at + 1);
        break;
      }
      case 5: // cut the input short
        text = text.slice(0, Math.max(1, at));
        break;
      default: // replace a byte with a fragment
        text = text.slice(0, at) + FRAGMENTS[pick(FRAGMENTS.length)] + text.slice(at + 1);
        break;
    }
  }
  return text;
}

export function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}
