// node-http-proxy in front of one origin, with a keep-alive agent so upstream connections are
// reused. Runs on Node after bundling. Arguments: LISTEN_PORT UPSTREAM_URL.
import http from "node:http";
import httpProxy from "http-proxy";

const port = Number(process.argv[2]);
const upstream = process.argv[3];
if (!Number.isInteger(port) || upstream === undefined) {
  console.error("usage: node-http-proxy.js LISTEN_PORT UPSTREAM_URL");
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true });
const proxy = httpProxy.createProxyServer({ target: upstream, agent });
proxy.on("error", (error, _request, response) => {
  console.error(`proxy error: ${error.message}`);
  if (response instanceof http.ServerResponse && !response.headersSent) {
    response.writeHead(502, { "content-type": "text/plain" });
  }
  response.end();
});

http.createServer((request, response) => proxy.web(request, response)).listen(port, "127.0.0.1");
