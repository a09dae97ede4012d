"""An OTLP/gRPC trace sink for benchmarks: accepts every export, keeps nothing, and prints
how many exports and bytes it took when stopped. Needs only `grpcio`.

    python bench/otlp_sink.py PORT
"""

import signal
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
taken = {"exports": 0, "bytes": 0}


def export(request: bytes, context) -> bytes:
    taken["exports"] += 1
    taken["bytes"] += len(request)
    return b""  # an empty ExportTraceServiceResponse


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(export)  # raw bytes in and out
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {"Export": handler})])
    port = server.add_insecure_port(f"127.0.0.1:{int(sys.argv[1])}")
    server.start()
    print(f"otlp sink on 127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(0)
    print(f"otlp sink took {taken['exports']} exports, {taken['bytes']} bytes", flush=True)


if __name__ == "__main__":
    main()
