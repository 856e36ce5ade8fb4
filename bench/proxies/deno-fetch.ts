// The shortest reverse proxy on Deno's own APIs: Deno.serve passes each request to fetch and
// returns fetch's response. fetch keeps upstream connections alive.
// Arguments: LISTEN_PORT UPSTREAM_URL.
const port = Number(Deno.args[0]);
const upstream = Deno.args[1];
if (!Number.isInteger(port) || upstream === undefined) {
  console.error("usage: deno run --allow-net deno-fetch.ts LISTEN_PORT UPSTREAM_URL");
  Deno.exit(2);
}

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (request) => {
  const url = new URL(request.url);
  const target = new URL(url.pathname + url.search, upstream);
  return fetch(target, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: "manual",
  });
});
