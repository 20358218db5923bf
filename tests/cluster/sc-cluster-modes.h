/* sc-cluster-modes.h: the modes of sc-cluster-load, one file each; each
 * checks one scenario of docs/CLUSTER.md and prints TAP lines (the plan
 * is run.sh's).  They return the number of failed checks so far. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int run_traffic (guint per_node, guint messages, guint broadcasts);
int run_ids (guint connects, const char *out_path);
int run_presence (guint rounds);
int run_lists (guint want, const char *forbidden_path, int wait_ms);
int run_rejoin (guint held, int wait_ms, const char *stop_path);
int
run_kill (guint victim_node, GPid pid, guint n_victims, const char *out_path);
int run_unreachable (const char *pids);
int run_natskill (const char *pids, guint per_node);
int run_idle (guint per_node,
              const char *ready_path,
              const char *stop_path,
              guint hold_s);

G_END_DECLS
