/* sc-bench-floor.h: the floor, a minimal relay to compare against.
 *
 * One thread, one epoll descriptor, no protocol work: after a one-line
 * handshake ("PAIR <n>", "ECHO" or "IDLE") it copies bytes from each
 * connection to its partner (itself for ECHO).  Whatever a real server
 * costs beyond this is the price of its protocol and design.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScBenchFloor ScBenchFloor;

ScBenchFloor *
sc_bench_floor_new (const char *bind_address, guint16 port, GError **error);
guint16 sc_bench_floor_get_port (ScBenchFloor *floor);
/* Serves until sc_bench_floor_stop() (from any thread). */
void sc_bench_floor_run (ScBenchFloor *floor);
void sc_bench_floor_stop (ScBenchFloor *floor);
/* Runs the floor in a thread of this process. */
void sc_bench_floor_start_thread (ScBenchFloor *floor);
void sc_bench_floor_free (ScBenchFloor *floor);

G_END_DECLS
