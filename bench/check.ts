// Sends one request of a workload through a target and checks the response, so that a proxy
// that returns errors quickly is not reported as fast.
import { LARGE_BYTES, SMALL_BODY, UPLOAD_ANSWER, UPLOAD_BYTES } from "./origin.ts";
import type { WorkloadName } from "./wrk.ts";

/** Throws when the target's response to one request of `workload` differs from the origin's. */
export async function checkTarget(port: number, workload: WorkloadName): Promise<void> {
  const url = `http://127.0.0.1:${port}`;
  let response: Response;
  let expected: { length: number; text?: string };
  switch (workload) {
    case "small":
      response = await fetch(`${url}/small`);
      expected = { length: SMALL_BODY.length, text: SMALL_BODY };
      break;
    case "large":
      response = await fetch(`${url}/large`);
      expected = { length: LARGE_BYTES };
      break;
    case "upload":
      response = await fetch(`${url}/upload`, { method: "POST", body: new Uint8Array(UPLOAD_BYTES) });
      expected = { length: UPLOAD_ANSWER.length, text: UPLOAD_ANSWER };
      break;
  }
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) {
    throw new Error(`${url}: ${workload} request got status ${response.status}, expected 200`);
  }
  if (body.length !== expected.length) {
    throw new Error(`${url}: ${workload} response body has ${body.length} bytes, expected ${expected.length}`);
  }
  if (expected.text !== undefined && new TextDecoder().decode(body) !== expected.text) {
    throw new Error(`${url}: ${workload} response body differs from the origin's`);
  }
}
