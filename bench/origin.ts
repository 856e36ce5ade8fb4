// The origin every proxy forwards to: nginx with one worker serving fixed responses.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nginxArgs, nginxPreamble } from "./nginx-config.ts";
import { type Child, startProcess, waitForPort } from "./processes.ts";

/** Body of `GET /small`: 100 bytes of ASCII. */
export const SMALL_BODY = "cairn benchmark small response body ".repeat(3).slice(0, 99) + "\n";
/** Size of `GET /large`: 10 MiB. */
export const LARGE_BYTES = 10 * 1024 * 1024;
/** Size of the body that the upload workload POSTs to `/upload`: 1 MiB. */
export const UPLOAD_BYTES = 1024 * 1024;
/** Body of the response to `POST /upload`. */
export const UPLOAD_ANSWER = "stored\n";

/**
 * Writes the origin's config and files into `dir` and returns the config file's path.
 *
 * `POST /upload` reads the whole request body into memory before it responds: the mirror module
 * with `mirror_request_body on` reads the body before the content phase, and its subrequest to
 * `/upload-sink` gets its 204 inside nginx with no network hop. Then the static handler,
 * which rejects POST with 405, runs, and its error page responds 200 with a fixed text.
 * `return 200` alone would run before the mirror module, respond first and discard the body
 * afterwards, so a proxy would not have to stream it all.
 */
export function writeOriginConfig(dir: string, port: number): string {
  const www = join(dir, "www");
  mkdirSync(www, { recursive: true });
  mkdirSync(join(dir, "origin-temp"), { recursive: true });
  writeFileSync(join(www, "large.bin"), Buffer.alloc(LARGE_BYTES, 0x61));
  writeFileSync(join(www, "upload-answer.txt"), UPLOAD_ANSWER);
  const config = `${nginxPreamble(dir, "origin")}
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    default_type application/octet-stream;

    location = /small {
      default_type text/plain;
      return 200 "${SMALL_BODY.trimEnd()}\\n";
    }
    location = /large {
      alias ${join(www, "large.bin")};
    }
    location = /upload {
      client_max_body_size 2m;
      client_body_buffer_size 2m;
      mirror /upload-sink;
      mirror_request_body on;
      # The static handler rejects POST with 405, and the error page sends the answer.
      alias ${join(www, "upload-answer.txt")};
      error_page 405 = @stored;
    }
    location @stored {
      default_type text/plain;
      return 200 "${UPLOAD_ANSWER.trimEnd()}\\n";
    }
    location = /upload-sink {
      internal;
      return 204;
    }
    # Counts accepted connections, so the driver can tell how many a proxy opened.
    location = /nginx-status {
      stub_status;
    }
  }
}
`;
  const file = join(dir, "origin.conf");
  writeFileSync(file, config);
  return file;
}

/** Starts the origin on `port`, pinned to `cpus` when given, and waits until it listens. */
export async function startOrigin(dir: string, port: number, cpus?: string): Promise<Child> {
  const config = writeOriginConfig(dir, port);
  const child = startProcess("origin nginx", {
    command: "nginx",
    args: nginxArgs(config, dir),
    stderrFile: join(dir, "origin-stderr.log"),
    cpus,
  });
  await waitForPort(port, child);
  return child;
}

/** Reads the number of connections the origin has accepted so far from its stub_status page. */
export async function originAcceptedConnections(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/nginx-status`);
  const text = await response.text();
  // Third line: "accepts handled requests" counters.
  const counters = text.split("\n")[2]?.trim().split(/\s+/).map(Number);
  if (counters === undefined || !Number.isFinite(counters[0])) {
    throw new Error(`unexpected stub_status page from the origin: ${JSON.stringify(text)}`);
  }
  return counters[0];
}
