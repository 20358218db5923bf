/* sc-bench-adapter.h: the systems the bench can drive.
 *
 * An adapter (ScBenchAdapter, in sc-bench-loop.h) is four callbacks:
 * start the handshake, parse incoming bytes into events ("ready", "a
 * message for me", "a response", "my message was refused"), encode a
 * message for the peer, and encode a request.  Each lives in
 * sc-bench-adapter-NAME.c.
 */
#pragma once

#include "sc-bench-loop.h"

G_BEGIN_DECLS

extern const ScBenchAdapter sc_bench_adapter_sockchat;
extern const ScBenchAdapter sc_bench_adapter_floor;
extern const ScBenchAdapter sc_bench_adapter_mqtt;
extern const ScBenchAdapter sc_bench_adapter_redis;
extern const ScBenchAdapter sc_bench_adapter_nats;
extern const ScBenchAdapter sc_bench_adapter_irc;

const ScBenchAdapter *sc_bench_adapter_lookup (const char *name);
const char *sc_bench_adapter_names (void);
gboolean sc_bench_adapter_find_mode (const ScBenchAdapter *adapter,
                                     const char *name,
                                     guint *mode);
const char *sc_bench_adapter_mode_name (const ScBenchAdapter *adapter,
                                        guint mode);

G_END_DECLS
