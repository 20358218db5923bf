/* sc-test-util.h: what every kind of SockChat test program shares, with
 * no dependency on the server or the client core: GLib test set-up, a
 * quiet log writer, waiting for a condition with a deadline, reading a
 * connection until the peer closes it, the sample files of a replay
 * directory, and sockchat-cli as a child. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Whether the condition a test waits for holds yet. */
typedef gboolean (*ScTestCondition) (gpointer user_data);

void sc_test_init (int *argc, char ***argv);
guint sc_test_threads (void);
GLogWriterOutput sc_test_quiet_writer (GLogLevelFlags log_level,
                                       const GLogField *fields,
                                       gsize n_fields,
                                       gpointer user_data);
gboolean sc_test_wait_until (ScTestCondition condition,
                             gpointer user_data,
                             guint timeout_ms);
gboolean sc_test_drain_until_closed (int fd, guint timeout_ms);
GPtrArray *sc_test_sample_names (const char *directory, GError **error);
GSubprocess *sc_test_cli_spawn (GSubprocessFlags flags,
                                const char *const *args,
                                GError **error);

G_END_DECLS
