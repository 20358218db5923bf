/* sc-fault-util.c: the sockchat-server child the fault tests start, and
 * /proc readings. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "sc-fault-util.h"

/* TRUE in an AddressSanitizer build: the server is several times slower
 * and keeps freed memory in quarantine, so memory bounds differ. */
gboolean
sc_fault_sanitized (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return TRUE;
#else
  return FALSE;
#endif
#else
  return FALSE;
#endif
}

/* Starts the server binary on an OS-chosen port with SC_TEST_THREADS
 * workers (meson sets it for every fault test) and waits for it to
 * announce the port.  (transfer full) */
ScServerChild *
sc_fault_server_start (const ScFaultServerOptions *options)
{
  g_autofree char *threads = g_strdup_printf ("%u", sc_test_threads ());
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (ScServerChild) server = NULL;
  ScServerChildOptions child_options = {
    .prefix = options->prefix,
    .max_files = options->max_files,
    /* Criticals stay fatal in the server; its warnings (such as "cannot
     * accept connections" when descriptors run out) are part of what the
     * tests provoke. */
    .g_debug = "fatal-criticals",
  };

  g_ptr_array_add (args, "--port");
  g_ptr_array_add (args, "0");
  g_ptr_array_add (args, "--bind");
  g_ptr_array_add (args,
                   (gpointer) (options->bind ? options->bind : "127.0.0.1"));
  g_ptr_array_add (args, "--threads");
  g_ptr_array_add (args, threads);
  for (gsize i = 0; options->args && options->args[i]; i++)
    g_ptr_array_add (args, (gpointer) options->args[i]);
  g_ptr_array_add (args, NULL);
  child_options.args = (const char *const *) args->pdata;

  server = sc_server_child_spawn (&child_options, &error);
  g_assert_no_error (error);
  sc_server_child_read_port (server, 10000, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&server);
}

/* SIGTERM, then waits for the exit; returns the exit status, failing the
 * test when the server dies by a signal or outlives @timeout_ms. */
int
sc_fault_server_stop (ScServerChild *server, guint timeout_ms)
{
  g_autoptr (GError) error = NULL;
  int status = sc_server_child_stop (server, timeout_ms, &error);

  g_assert_no_error (error);
  return status;
}

/* Whether the log has the line "client ID (ADDRESS port N) disconnected:
 * ..." for the client id in @what. */
static gboolean
log_has_disconnect (const char *log, gconstpointer what)
{
  g_autofree char *start =
    g_strdup_printf ("client %u (", GPOINTER_TO_UINT (what));
  const char *p = log;

  while ((p = strstr (p, start)) != NULL)
    {
      const char *end = strchr (p, '\n');
      const char *hit = strstr (p, ") disconnected: ");

      if (hit != NULL && (end == NULL || hit < end))
        return TRUE;
      p += strlen (start);
    }
  return FALSE;
}

gboolean
sc_fault_server_wait_disconnect_log (ScServerChild *server,
                                     guint32 client_id,
                                     guint timeout_ms)
{
  return sc_server_child_wait_stderr (server, log_has_disconnect,
                                      GUINT_TO_POINTER (client_id), timeout_ms);
}

static char *
proc_read (GPid pid, const char *name)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, name);
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

/* The resident set size of @pid, in bytes. */
gsize
sc_fault_proc_rss (GPid pid)
{
  g_autofree char *status = proc_read (pid, "status");
  const char *line = strstr (status, "\nVmRSS:");

  g_assert_nonnull (line);
  return (gsize) g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

/* How many descriptors @pid has open. */
guint
sc_fault_proc_n_fds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* User plus system CPU time of @pid, in clock ticks. */
guint64
sc_fault_proc_cpu_ticks (GPid pid)
{
  g_autofree char *stat = proc_read (pid, "stat");
  g_auto (GStrv) fields = NULL;
  /* The command name is in parentheses and may hold spaces: count the
   * fields after its closing parenthesis. */
  const char *rest = strrchr (stat, ')');

  g_assert_nonnull (rest);
  fields = g_strsplit (rest + 2, " ", -1);
  /* After the name: state is field 3 of stat(5), utime 14, stime 15. */
  g_assert_cmpuint (g_strv_length (fields), >, 12);
  return g_ascii_strtoull (fields[11], NULL, 10) +
         g_ascii_strtoull (fields[12], NULL, 10);
}

/* The state letter of /proc/PID/stat: 'T' once a SIGSTOP has taken. */
char
sc_fault_proc_state (GPid pid)
{
  g_autofree char *stat = proc_read (pid, "stat");
  const char *end = strrchr (stat, ')');

  g_assert_nonnull (end);
  return end[2];
}

/* The send and receive queue lengths of the IPv4 TCP socket from
 * 127.0.0.1:@local_port to 127.0.0.1:@remote_port in this network
 * namespace, from /proc/net/tcp: @tx is what the peer has not yet
 * acknowledged, @rx what the owner has not yet read.  FALSE when there is
 * no such socket. */
gboolean
sc_fault_tcp_queues (guint16 local_port,
                     guint16 remote_port,
                     guint *tx,
                     guint *rx)
{
  g_autofree char *table = NULL;
  g_autofree char *local = g_strdup_printf ("0100007F:%04X", local_port);
  g_autofree char *remote = g_strdup_printf ("0100007F:%04X", remote_port);
  g_auto (GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/net/tcp", &table, NULL, NULL));
  lines = g_strsplit (table, "\n", -1);
  /* "sl local_address rem_address st tx_queue:rx_queue ..." */
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr (GPtrArray) words = g_ptr_array_new ();
      const char *queues;

      for (guint j = 0; fields[j] != NULL; j++)
        if (fields[j][0] != '\0')
          g_ptr_array_add (words, fields[j]);
      if (words->len < 5 || g_strcmp0 (words->pdata[1], local) != 0 ||
          g_strcmp0 (words->pdata[2], remote) != 0)
        continue;
      queues = words->pdata[4];
      g_assert_nonnull (strchr (queues, ':'));
      *tx = (guint) g_ascii_strtoull (queues, NULL, 16);
      *rx = (guint) g_ascii_strtoull (strchr (queues, ':') + 1, NULL, 16);
      return TRUE;
    }
  return FALSE;
}

static gboolean
is_stopped (gpointer data)
{
  return sc_fault_proc_state (GPOINTER_TO_INT (data)) == 'T';
}

/* Stops @pid and waits until it really is stopped: kill() returns
 * before the signal has been acted on. */
void
sc_fault_proc_stop (GPid pid)
{
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  g_assert_true (sc_test_wait_until (is_stopped, GINT_TO_POINTER (pid), 5000));
}
