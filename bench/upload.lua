-- wrk script for the upload workload: every request POSTs a 1 MiB body (wrk adds its
-- Content-Length).
wrk.method = "POST"
wrk.body = string.rep("u", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
