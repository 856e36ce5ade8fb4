/**
 * Request-side conformance cases as data: the exact bytes a client sends and what Cairn must do
 * with them. Each case keeps an id (section letters and number, then a variant letter) so that
 * a failure can be traced to the case list it came from. Where RFC 9112 allows more than one
 * behaviour, the expectation is the one Cairn chose; docs/conformance.md lists them.
 */
import {
  canonicalHead,
  type ExpectedRequest,
  plain,
  withChunks,
  withLength,
} from "./request-harness.ts";

/** What Cairn must do with a case's bytes. */
export type CaseExpectation =
  | {
    kind: "reject";
    status: number;
    /**
     * Set when the error sits in a chunked body: Cairn may already have forwarded this head and
     * some chunks, and must then abort that upstream request.
     */
    upstreamHead?: string;
  }
  | {
    kind: "forward";
    /** Requests the origin receives, in order; the client gets one `200` for each. */
    requests: ExpectedRequest[];
  };

export interface RequestCase {
  /** Case id and variant, such as `FR-06 b`. */
  id: string;
  /** The rule the case checks, used as the test name. */
  rule: string;
  /** Bytes the client sends, one character per byte. */
  bytes: string;
  expect: CaseExpectation;
  /**
   * Whether a valid request follows a rejected message on the same connection, to show that
   * nothing after the offending message is read. True unless set to false.
   */
  followUp?: boolean;
}

const HOST = "Host: p.test\r\n";
const BODY = "5\r\nhello\r\n0\r\n\r\n";
const NEXT = "GET /next HTTP/1.1\r\nHost: p.test\r\n\r\n";
const CHUNKED_PREFIX = "POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n";

/** The head Cairn forwards for `CHUNKED_PREFIX` before it reads the body. */
export const CHUNKED_HEAD = canonicalHead("POST /a", HOST, { chunked: true });

/** Request sent after a rejected message. Cairn must neither respond to it nor forward it. */
export const FOLLOW_UP = "GET /after-reject HTTP/1.1\r\nHost: p.test\r\n\r\n";

function reject(id: string, rule: string, bytes: string, status = 400): RequestCase {
  return { id, rule, bytes, expect: { kind: "reject", status } };
}

function rejectChunked(id: string, rule: string, body: string, status = 400): RequestCase {
  return { id, rule, bytes: CHUNKED_PREFIX + body, expect: { kind: "reject", status, upstreamHead: CHUNKED_HEAD } };
}

function forward(id: string, rule: string, bytes: string, requests: ExpectedRequest[]): RequestCase {
  return { id, rule, bytes, expect: { kind: "forward", requests } };
}

/** Shows control bytes in a test name. */
function show(text: string): string {
  return JSON.stringify(text);
}

function postWithLengthValue(value: string): string {
  return `POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: ${value}\r\n\r\nhello`;
}

function postWithCoding(value: string, extraFields = ""): string {
  return `POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: ${value}\r\n${extraFields}\r\n${BODY}`;
}

function getWithField(line: string): string {
  return `GET /a HTTP/1.1\r\nHost: p.test\r\n${line}\r\n\r\n`;
}

function getTarget(target: string, version = "HTTP/1.1"): string {
  return `GET ${target} ${version}\r\nHost: p.test\r\n\r\n`;
}

const letters = "abcdefghijklmnopqrstuvwxyz";

export const BODY_FRAMING_CASES: RequestCase[] = [
  reject(
    "FR-01",
    "rejects Content-Length followed by chunked",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 26\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\nGET /x HTTP/1.1\r\nX: y",
  ),
  reject(
    "FR-02",
    "rejects chunked followed by a smaller Content-Length",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" +
      "1e\r\nGET /y HTTP/1.1\r\nHost: p.t\r\n\r\n\r\n0\r\n\r\n",
  ),
  reject(
    "FR-03 a",
    "rejects two different Content-Length fields",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 0\r\nContent-Length: 19\r\n\r\nGET /z HTTP/1.1\r\n\r\n",
  ),
  reject(
    "FR-03 b",
    "rejects two different Content-Length fields in the other order",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 19\r\nContent-Length: 0\r\n\r\nGET /z HTTP/1.1\r\n\r\n",
  ),
  reject(
    "FR-04 a",
    "rejects repeated identical Content-Length fields",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
  ),
  reject("FR-04 b", "rejects an identical Content-Length list", postWithLengthValue("5, 5")),
  reject("FR-04 c", "rejects a Content-Length list with different values", postWithLengthValue("5, 5, 6")),
  reject("FR-04 d", "rejects a Content-Length list with an empty element", postWithLengthValue("5,")),
  reject(
    "FR-05 a",
    "rejects an empty Content-Length",
    "GET /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: \r\n\r\n",
  ),
  reject(
    "FR-05 b",
    "rejects an empty Content-Length before a valid one",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: \r\nContent-Length: 37\r\n\r\n" +
      "GET /admin HTTP/1.1\r\nHost: p.test\r\n\r\n",
  ),
  ...["+5", "-5", "-0", "0x5", "5_0", "4 2", "5.0", "5\x0b", "5\x00", "\xef\xbc\x95"].map((value, i) =>
    reject(`FR-06 ${letters[i]}`, `rejects Content-Length ${show(value)} that is not digits`, postWithLengthValue(value))
  ),
  reject("FR-06 k", "rejects HTAB after a Content-Length value", postWithLengthValue("\t5 \t")),
  forward(
    "FR-06 l",
    "trims whitespace around a Content-Length value",
    postWithLengthValue("\t5  "),
    [withLength("POST /a", HOST, "hello")],
  ),
  ...["18446744073709551616", "9007199254740993", "1".repeat(30)].map((value, i) =>
    reject(
      `FR-07 ${letters[i]}`,
      `rejects Content-Length ${value} as too large without rounding`,
      `POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: ${value}\r\n\r\n`,
      413,
    )
  ),
  reject("FR-09 a", "rejects a transfer coding after chunked", postWithCoding("chunked, gzip")),
  reject(
    "FR-09 b",
    "rejects a Transfer-Encoding line after chunked",
    postWithCoding("chunked", "Transfer-Encoding: identity\r\n"),
  ),
  ...["gzip", "pigeons", "xchunked", "chunkedchunked", "identity"].map((value, i) =>
    reject(`FR-10 ${letters[i]}`, `answers 501 to the transfer coding ${value}`, postWithCoding(value), 501)
  ),
  reject("FR-11 a", "rejects chunked applied twice in one field", postWithCoding("chunked, chunked")),
  reject(
    "FR-11 b",
    "rejects chunked applied twice in two fields",
    postWithCoding("chunked", "Transfer-Encoding: chunked\r\n"),
  ),
  ...[
    "chunked\t",
    "  chunked  ",
    "CHUNKED",
    "\x0bchunked",
    "\x0cchunked",
    "chunked\x00",
    "\xa0chunked",
    "\xffchunked\xff",
  ].map((value, i) =>
    reject(
      `FR-12 ${letters[i]}`,
      `rejects Transfer-Encoding ${show(value)} with Content-Length`,
      postWithCoding(value, "Content-Length: 3\r\n"),
    )
  ),
  reject(
    "FR-12 a without Content-Length",
    "rejects HTAB after a Transfer-Encoding value",
    postWithCoding("chunked\t"),
  ),
  ...["  chunked  ", "CHUNKED"].map((value, i) =>
    forward(
      `FR-12 ${letters[i + 1]} without Content-Length`,
      `reads Transfer-Encoding ${show(value)} as chunked`,
      postWithCoding(value),
      [withChunks("POST /a", HOST, "hello")],
    )
  ),
  ...["\x0bchunked", "\x0cchunked", "chunked\x00", "\xa0chunked", "\xffchunked\xff"].map((value, i) =>
    reject(
      `FR-12 ${letters[i + 3]} without Content-Length`,
      `rejects Transfer-Encoding ${show(value)} as an invalid coding`,
      postWithCoding(value),
    )
  ),
  reject(
    "FR-14",
    "rejects Transfer-Encoding in an HTTP/1.0 request",
    "POST /a HTTP/1.0\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 34\r\n\r\n" +
      "5\r\nhello\r\n0\r\n\r\nGET /n HTTP/1.0\r\n\r\n",
  ),
  reject(
    "FR-15 a",
    "rejects whitespace before the colon of Transfer-Encoding",
    `POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding : chunked\r\n\r\n${BODY}`,
  ),
  reject(
    "FR-15 b",
    "rejects a tab before the colon of Content-Length",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length\t: 5\r\n\r\nhello",
  ),
  reject("FR-15 c", "rejects whitespace before the colon of Host", "GET /a HTTP/1.1\r\nHost : p.test\r\n\r\n"),
  reject("FR-15 d", "rejects whitespace before the colon of any field", getWithField("X-A  : 1")),
  reject(
    "FR-16 a",
    "rejects obs-fold that would hide Content-Length",
    "POST /hello HTTP/1.1\r\nHost: p.test\r\nX-A: b\r\n Content-Length: 35\r\n\r\n" +
      "GET /bye HTTP/1.1\r\nHost: p.test\r\n\r\n",
  ),
  reject(
    "FR-16 b",
    "rejects obs-fold in Transfer-Encoding",
    `POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\t, identity\r\n\r\n${BODY}`,
  ),
  ...["GET", "HEAD", "OPTIONS"].map((method, i) =>
    forward(
      `FR-18 ${letters[i]}`,
      `forwards the body of a ${method} with its Content-Length`,
      `${method} /g HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\n\r\nhelloGET /h HTTP/1.1\r\nHost: p.test\r\n\r\n`,
      [withLength(`${method} /g`, HOST, "hello"), plain("GET /h")],
    )
  ),
  ...["DELETE", "OPTIONS"].map((method, i) =>
    forward(
      `FR-19 ${letters[i]}`,
      `forwards a chunked ${method} body with its own framing`,
      `${method} /r HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n` +
        "21\r\nGET /x HTTP/1.1\r\nHost: p.test\r\n\r\n\r\n0\r\n\r\n",
      [withChunks(`${method} /r`, HOST, "GET /x HTTP/1.1\r\nHost: p.test\r\n\r\n")],
    )
  ),
];

export const FIELD_SYNTAX_CASES: RequestCase[] = [
  reject(
    "HD-01 a",
    "rejects a bare CR inside a field value",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nX-A: q\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
  ),
  reject(
    "HD-01 b",
    "rejects a bare CR inside a field name",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent\rLength: 5\r\n\r\nhello",
  ),
  reject(
    "HD-01 c",
    "rejects a bare CR at the start of a field value",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nX-A:\rContent-Length: 40\r\n\r\nhello",
  ),
  reject("HD-02 a", "rejects LF line endings", "GET /a HTTP/1.1\nHost: p.test\n\n"),
  reject(
    "HD-02 b",
    "rejects a bare LF between fields",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nX-A: v\nContent-Length: 5\r\n\r\nhello",
  ),
  ...["X-A: ab\x00cd", "X-A: ab\x00", "X-B: a\x7fb", "X-C: a\x01b", "X-D: a\x1bb"].map((line, i) =>
    reject(`HD-03 ${letters[i]}`, `rejects a control byte in the field ${show(line)}`, getWithField(line))
  ),
  reject("HD-03 f", "rejects NUL inside Host", "GET /a HTTP/1.1\r\nHost: p.test\x00.other.test\r\n\r\n"),
  forward("HD-03 g", "forwards HTAB inside a field value", getWithField("X-E: a\tb"), [
    plain("GET /a", "Host: p.test\r\nX-E: a\tb\r\n"),
  ]),
  reject(
    "HD-04 a",
    "rejects obs-text in a field name",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length\x85: 5\r\n\r\nhello",
  ),
  reject("HD-04 b", "rejects obs-text before a field name", getWithField("\xefX-A: 1")),
  reject("HD-04 c", "rejects braces in a field name", getWithField("X{A}: 1")),
  reject("HD-04 d", "rejects a space inside a field name", getWithField("X A: 1")),
  forward(
    "HD-04 e",
    "keeps Content_Length apart from Content-Length",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\nContent_Length: 99\r\n\r\nhello",
    [withLength("POST /a", "Host: p.test\r\nContent_Length: 99\r\n", "hello")],
  ),
  forward(
    "HD-04 f",
    "keeps Transfer_Encoding apart from Transfer-Encoding",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
    [withLength("POST /a", "Host: p.test\r\nTransfer_Encoding: chunked\r\n", "hello")],
  ),
  reject("HD-05 a", "rejects an empty field name", getWithField(": x")),
  reject(
    "HD-05 b",
    "rejects a line with only a colon",
    "POST /a HTTP/1.1\r\nHost: p.test\r\n:\r\nContent-Length: 5\r\n\r\nhello",
  ),
  reject(
    "HD-05 c",
    "rejects a field line without a colon",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length 5\r\n\r\nhello",
  ),
  reject(
    "HD-05 d",
    "rejects a field name split over two lines",
    "POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-\r\nEncoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
  ),
  reject("HD-05 e", "rejects LF inside a field name", getWithField("X-Te\nst: 1")),
  reject(
    "HD-07",
    "rejects CR LF CR and a byte as the end of the fields",
    "GET /a HTTP/1.1\r\nHost: p.test\r\n\rXGET /evil HTTP/1.1\r\nHost: p.test\r\n\r\n",
  ),
];

export const CHUNKED_BODY_CASES: RequestCase[] = [
  ...["0x5", "+5", "-5", " 5", "5 ", "5\t", "5_0", "5z", "5these-are-not-hex"].map((size, i) =>
    rejectChunked(`CH-01 ${letters[i]}`, `rejects the chunk size ${show(size)}`, `${size}\r\nhello\r\n0\r\n\r\n`)
  ),
  rejectChunked("CH-01 j", "rejects an invalid second chunk size", "3\r\nabc\r\n0x5\r\nhello\r\n0\r\n\r\n"),
  rejectChunked("CH-01 k", "rejects whitespace before a chunk extension", "5 ;x=1\r\nhello\r\n0\r\n\r\n"),
  ...["10000000000000000", "fffffffffffffffff", "20000000000001", "9".repeat(100)].map((size, i) =>
    rejectChunked(
      `CH-02 ${letters[i]}`,
      `rejects the chunk size ${size.length > 20 ? `of ${size.length} digits` : size} without rounding`,
      `${size}\r\nhello\r\n0\r\n\r\n`,
    )
  ),
  rejectChunked("CH-03 a", "rejects chunk data longer than its size", "3\r\nabcde\r\n0\r\n\r\n"),
  rejectChunked("CH-03 b", "rejects chunk data shorter than its size", "5\r\nabc\r\n0\r\n\r\n"),
  rejectChunked("CH-03 c", "rejects two bytes in place of CRLF after chunk data", "3\r\nabc__\r\n0\r\n\r\n"),
  rejectChunked("CH-04 a", "rejects LF after a chunk size", "5\nhello\r\n0\r\n\r\n"),
  rejectChunked("CH-04 b", "rejects LF after chunk data", "5\r\nhello\n0\r\n\r\n"),
  rejectChunked("CH-04 c", "rejects LF after the last chunk size", "5\r\nhello\r\n0\n\r\n"),
  rejectChunked("CH-04 d", "rejects LF ending the trailer section", "5\r\nhello\r\n0\r\n\n"),
  rejectChunked("CH-04 e", "rejects LF after a chunk extension", "5;e=v\nhello\r\n0\r\n\r\n"),
  forward(
    "CH-06 a",
    "drops valid chunk extensions",
    CHUNKED_PREFIX + '5;name=value;flag;q="a \\"b\\""\r\nhello\r\n0;end=1\r\n\r\n',
    [withChunks("POST /a", HOST, "hello")],
  ),
  rejectChunked("CH-06 b", "rejects whitespace around a chunk extension", "5 ; name\r\nhello\r\n0\r\n\r\n"),
  ...["5;", "5;=v", '5;a="open', "5 ext", "5   ", "5;a\x00"].map((line, i) =>
    rejectChunked(
      `CH-06 ${letters[i + 2]}`,
      `rejects the chunk-size line ${show(line)}`,
      `${line}\r\nhello\r\n0\r\n\r\n`,
    )
  ),
  {
    ...rejectChunked("CH-08 a", "rejects an empty line in place of a chunk size", "3\r\nabc\r\n\r\n"),
    followUp: false,
  },
  rejectChunked("CH-08 b", "rejects an empty line between chunks", "3\r\nabc\r\n\r\n0\r\n\r\n"),
  rejectChunked("CH-08 c", "rejects a body of empty lines", "\r\n\r\n"),
  forward(
    "CH-09 a",
    "drops a trailer field",
    CHUNKED_PREFIX + "5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n" + NEXT,
    [withChunks("POST /a", HOST, "hello"), plain("GET /next")],
  ),
  rejectChunked(
    "CH-09 b",
    "rejects framing fields in a trailer",
    "5\r\nhello\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\nHost: other.test\r\n\r\n",
  ),
  forward(
    "CH-09 b, Host only",
    "drops a Host field in a trailer",
    CHUNKED_PREFIX + "5\r\nhello\r\n0\r\nHost: other.test\r\n\r\n" + NEXT,
    [withChunks("POST /a", HOST, "hello"), plain("GET /next")],
  ),
  rejectChunked("CH-09 c1", "rejects a trailer line without a colon", "5\r\nhello\r\n0\r\nX-Bad\r\n\r\n"),
  rejectChunked("CH-09 c2", "rejects a bare LF in the trailer section", "5\r\nhello\r\n0\r\nX-A: 1\nX-B: 2\r\n\r\n"),
  rejectChunked("CH-09 c3", "rejects obs-fold in the trailer section", "5\r\nhello\r\n0\r\n X-F: 1\r\n\r\n"),
  forward(
    "CH-10",
    "reads a trailer value that looks like a request-line as a field",
    CHUNKED_PREFIX + "0\r\nX:GET /admin HTTP/1.1\r\n\r\n" + NEXT,
    [withChunks("POST /a", HOST, ""), plain("GET /next")],
  ),
];

export const REQUEST_LINE_CASES: RequestCase[] = [
  reject("RL-01 a", "rejects an HTTP/1.1 request without Host", "GET /a HTTP/1.1\r\n\r\n"),
  reject("RL-01 b", "rejects two different Host fields", "GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"),
  reject("RL-01 c", "rejects two identical Host fields", "GET /a HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n"),
  reject("RL-01 d", "rejects a Host list", "GET /a HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n"),
  reject("RL-01 e", "rejects a Host with a path", "GET /a HTTP/1.1\r\nHost: a.test/x\r\n\r\n"),
  reject("RL-01 f", "rejects a Host with userinfo", "GET /a HTTP/1.1\r\nHost: u@a.test\r\n\r\n"),
  forward(
    "RL-02 a",
    "routes and sets Host from an absolute-form target",
    "GET http://b.test/x?y=1 HTTP/1.1\r\nHost: a.test\r\n\r\n",
    [plain("GET /x?y=1", "Host: b.test\r\n", { forwardedHost: "b.test" })],
  ),
  forward(
    "RL-02 a, reversed",
    "routes on the target authority over the Host field",
    "GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n",
    [plain("GET /x", "Host: a.test\r\n", { forwardedHost: "a.test", routeFields: "x-route: site-a\r\n" })],
  ),
  forward(
    "RL-02 a, control",
    "routes an origin-form target on Host",
    "GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n",
    [plain("GET /x", "Host: a.test\r\n", { forwardedHost: "a.test", routeFields: "x-route: site-a\r\n" })],
  ),
  forward(
    "RL-02 b",
    "forwards an absolute-form target without a path as /",
    "GET http://b.test HTTP/1.1\r\nHost: b.test\r\n\r\n",
    [plain("GET /", "Host: b.test\r\n", { forwardedHost: "b.test" })],
  ),
  reject(
    "RL-02 c",
    "rejects userinfo in an absolute-form target",
    "GET http://u:pw@b.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n",
  ),
  reject("RL-02 d", "rejects a target with a scheme other than http", "GET ftp://b.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n"),
  ...["/admin#x", "/a\rb", "/a\x7fb", "/a<b>", "/a\tb", "/caf\xc3\xa9"].map((target, i) =>
    reject(`RL-03 ${letters[i]}`, `rejects the request-target ${show(target)}`, getTarget(target))
  ),
  forward(
    "RL-03 g",
    "forwards percent-encoded CR LF in the target unchanged",
    getTarget("/a%0d%0aX-Inj:%201"),
    [plain("GET /a%0d%0aX-Inj:%201")],
  ),
  reject("RL-04 a", "rejects a target without a leading slash", getTarget("admin")),
  reject("RL-04 b", "rejects an asterisk target with GET", getTarget("*")),
  forward("RL-04 c", "forwards OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: p.test\r\n\r\n", [plain("OPTIONS *")]),
  reject("RL-04 d", "rejects an authority-form target with GET", getTarget("p.test:80")),
  reject(
    "RL-04 e",
    "answers 405 to CONNECT",
    "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n",
    405,
  ),
  forward(
    "RL-04 f",
    "forwards OPTIONS to an absolute-form target without a path as *",
    "OPTIONS http://b.test HTTP/1.1\r\nHost: b.test\r\n\r\n",
    [plain("OPTIONS *", "Host: b.test\r\n", { forwardedHost: "b.test" })],
  ),
  forward("RL-05 a", "forwards HTTP/1.2 as HTTP/1.1", getTarget("/", "HTTP/1.2"), [plain("GET /")]),
  reject("RL-05 b", "rejects a two-digit minor version", getTarget("/", "HTTP/1.32")),
  reject("RL-05 c", "answers 505 to HTTP/2.0", getTarget("/", "HTTP/2.0"), 505),
  reject("RL-05 d", "rejects a lower-case version", getTarget("/", "http/1.1")),
  reject("RL-05 e", "rejects a space after the version", getTarget("/", "HTTP/1.1 ")),
  reject("RL-05 f", "rejects CRs inside the version", getTarget("/", "HTTP/\r\r1.1")),
  reject("RL-05 g", "rejects a request-line without a version", "GET /\r\n\r\n"),
  reject("RL-06 a", "rejects two spaces after the method", "GET  /a HTTP/1.1\r\nHost: p.test\r\n\r\n"),
  reject("RL-06 b", "rejects a tab after the method", "GET\t/a HTTP/1.1\r\nHost: p.test\r\n\r\n"),
  reject("RL-06 c", "rejects LF inside the request-line", "GET /a\nHTTP/1.1\r\n\r\n"),
  forward(
    "RL-06 d",
    "skips empty lines before a request",
    "\r\n\r\nGET /a HTTP/1.1\r\nHost: p.test\r\n\r\n",
    [plain("GET /a")],
  ),
  ...["G\x00T", 'G=":<>(e)', ":GET"].map((method, i) =>
    reject(`RL-06 e${i + 1}`, `rejects the method ${show(method)}`, `${method} /a HTTP/1.1\r\nHost: p.test\r\n\r\n`)
  ),
  forward("RL-06 f", "forwards an unknown method", "BREW /pot HTTP/1.1\r\nHost: p.test\r\n\r\n", [plain("BREW /pot")]),
  forward("RL-06 g", "forwards a lower-case method unchanged", "get /a HTTP/1.1\r\nHost: p.test\r\n\r\n", [plain("get /a")]),
];
