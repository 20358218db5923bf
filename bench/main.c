/* main.c: sockchat-bench, a load generator for SockChat and its floor.
 *
 * One process, one thread, one epoll loop for every client connection.
 * See bench/README.md for the workloads and how to read the numbers.
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sc-bench-adapter.h"
#include "sc-bench-floor.h"
#include "sc-bench-workload.h"

static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        g_warning ("cannot raise the descriptor limit: %s", g_strerror (errno));
    }
}

static int
run_floor_relay (const char *bind_address, int port)
{
  g_autoptr (GError) error = NULL;
  ScBenchFloor *floor = sc_bench_floor_new (bind_address, port, &error);

  if (floor == NULL)
    {
      g_printerr ("sockchat-bench: %s\n", error->message);
      return 1;
    }
  g_print ("sockchat-bench floor: listening on port %u\n",
           sc_bench_floor_get_port (floor));
  fflush (stdout);
  /* Runs until killed: the relay has no state worth a clean exit. */
  sc_bench_floor_run (floor);
  sc_bench_floor_free (floor);
  return 0;
}

/* "N,N,...": numbers from 1 to max, into a new array; NULL when one is
 * not. */
static GArray *
parse_number_list (const char *text, gint64 max)
{
  g_auto (GStrv) words = g_strsplit (text, ",", -1);
  GArray *numbers = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; words[i] != NULL; i++)
    {
      gint64 number;

      if (!g_ascii_string_to_signed (g_strstrip (words[i]), 10, 1, max, &number,
                                     NULL))
        {
          g_array_unref (numbers);
          return NULL;
        }
      g_array_append_val (numbers, number);
    }
  return numbers;
}

/* --ports and --more-pids, into config; FALSE when one is malformed. */
static gboolean
parse_cluster_lists (const char *ports_text,
                     const char *pids_text,
                     ScBenchWorkloadConfig *config,
                     GArray **ports,
                     GArray **pids)
{
  g_autoptr (GArray) port_numbers = NULL;
  g_autoptr (GArray) pid_numbers = NULL;

  *ports = g_array_new (FALSE, FALSE, sizeof (guint16));
  *pids = g_array_new (FALSE, FALSE, sizeof (int));
  if (ports_text != NULL &&
      (port_numbers = parse_number_list (ports_text, G_MAXUINT16)) == NULL)
    return FALSE;
  if (pids_text != NULL &&
      (pid_numbers = parse_number_list (pids_text, G_MAXINT)) == NULL)
    return FALSE;
  for (guint i = 0; port_numbers != NULL && i < port_numbers->len; i++)
    {
      guint16 port = g_array_index (port_numbers, gint64, i);

      g_array_append_val (*ports, port);
    }
  for (guint i = 0; pid_numbers != NULL && i < pid_numbers->len; i++)
    {
      int pid = g_array_index (pid_numbers, gint64, i);

      g_array_append_val (*pids, pid);
    }
  config->ports = (const guint16 *) (*ports)->data;
  config->n_ports = (*ports)->len;
  config->more_pids = (const int *) (*pids)->data;
  config->n_more_pids = (*pids)->len;
  return TRUE;
}

static void
print_json (const ScBenchWorkloadConfig *config,
            const char *system,
            const ScBenchResult *result)
{
  const ScBenchHistogram *h = result->histogram;
  g_autoptr (GString) out = g_string_new ("{");

  g_string_append_printf (
    out,
    "\"system\":\"%s\",\"mode\":\"%s\",\"tls\":%s,\"workload\":\"%s\","
    "\"payload\":%" G_GSIZE_FORMAT ",",
    system, sc_bench_adapter_mode_name (config->adapter, config->mode),
    config->tls ? "true" : "false", sc_bench_workload_name (config->kind),
    config->payload);
  if (config->n_ports > 0)
    g_string_append_printf (out, "\"ports\":%u,", config->n_ports);
  if (config->kind == SC_BENCH_WORKLOAD_REQRESP)
    g_string_append_printf (out, "\"clients\":%u,", config->clients);
  else
    g_string_append_printf (out, "\"pairs\":%u,\"window\":%u,", config->pairs,
                            config->window);
  if (config->kind == SC_BENCH_WORKLOAD_OPEN)
    g_string_append_printf (out, "\"rate\":%.0f,", config->rate);
  g_string_append_printf (
    out,
    "\"duration_s\":%.3f,\"messages\":%" G_GUINT64_FORMAT ","
    "\"msgs_per_s\":%.1f,\"latency\":\"%s\",\"p50_us\":%.2f,"
    "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f,",
    result->elapsed_s, result->messages, result->messages_per_s,
    result->latency_kind, sc_bench_histogram_percentile (h, 50) / 1e3,
    sc_bench_histogram_percentile (h, 99) / 1e3,
    sc_bench_histogram_percentile (h, 99.9) / 1e3,
    sc_bench_histogram_max (h) / 1e3, sc_bench_histogram_mean (h) / 1e3);
  if (result->server_cpu_ns >= 0)
    g_string_append_printf (out,
                            "\"server_cpu_s\":%.3f,"
                            "\"server_cpu_us_per_msg\":%.3f,",
                            result->server_cpu_ns / 1e9,
                            result->server_cpu_us_per_message);
  else
    g_string_append (out, "\"server_cpu_s\":null,"
                          "\"server_cpu_us_per_msg\":null,");
  g_string_append_printf (
    out,
    "\"bench_cpu_s\":%.3f,\"send_failures\":%" G_GUINT64_FORMAT
    ",\"connection_failures\":%u",
    result->bench_cpu_ns / 1e9, result->send_failures,
    result->connection_failures);
  if (config->idle > 0)
    {
      g_string_append_printf (out,
                              ",\"idle\":%u,\"idle_ready\":%u,"
                              "\"idle_connect_s\":%.3f",
                              config->idle, result->idle_ready,
                              result->idle_connect_s);
      if (result->rss_before >= 0 && result->rss_after >= 0)
        g_string_append_printf (
          out,
          ",\"server_rss_before\":%" G_GINT64_FORMAT
          ",\"server_rss_after\":%" G_GINT64_FORMAT
          ",\"server_rss_per_idle_conn\":%.0f",
          result->rss_before, result->rss_after,
          (double) (result->rss_after - result->rss_before) /
            MAX (result->idle_ready, 1));
    }
  g_string_append (out, "}\n");
  fputs (out->str, stdout);
}

static void
print_text (const ScBenchWorkloadConfig *config,
            const char *system,
            const ScBenchResult *result)
{
  const ScBenchHistogram *h = result->histogram;
  const char *mode = sc_bench_adapter_mode_name (config->adapter, config->mode);

  g_print ("%s%s%s %s payload=%" G_GSIZE_FORMAT, system, mode[0] ? ":" : "",
           mode, sc_bench_workload_name (config->kind), config->payload);
  if (config->kind == SC_BENCH_WORKLOAD_REQRESP)
    g_print (" clients=%u", config->clients);
  else
    g_print (" pairs=%u window=%u", config->pairs, config->window);
  if (config->kind == SC_BENCH_WORKLOAD_OPEN)
    g_print (" rate=%.0f/s", config->rate);
  g_print ("\n  %" G_GUINT64_FORMAT " messages in %.2f s: %.0f msgs/s\n",
           result->messages, result->elapsed_s, result->messages_per_s);
  g_print ("  %s latency: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
           "max %.1f us\n",
           result->latency_kind, sc_bench_histogram_percentile (h, 50) / 1e3,
           sc_bench_histogram_percentile (h, 99) / 1e3,
           sc_bench_histogram_percentile (h, 99.9) / 1e3,
           sc_bench_histogram_max (h) / 1e3);
  if (result->server_cpu_ns >= 0)
    g_print ("  server CPU %.2f s, %.2f us per message; bench CPU %.2f s\n",
             result->server_cpu_ns / 1e9, result->server_cpu_us_per_message,
             result->bench_cpu_ns / 1e9);
  else
    g_print ("  bench CPU %.2f s (no --server-pid: no server CPU)\n",
             result->bench_cpu_ns / 1e9);
  if (result->send_failures > 0 || result->connection_failures > 0)
    g_print ("  failures: %" G_GUINT64_FORMAT " refused sends, %u "
             "connections lost\n",
             result->send_failures, result->connection_failures);
  if (config->idle > 0)
    {
      g_print ("  %u idle connections ready in %.2f s", result->idle_ready,
               result->idle_connect_s);
      if (result->rss_before >= 0 && result->rss_after >= 0)
        g_print ("; server RSS %.1f -> %.1f MiB, %.0f bytes per connection",
                 result->rss_before / 1048576.0, result->rss_after / 1048576.0,
                 (double) (result->rss_after - result->rss_before) /
                   MAX (result->idle_ready, 1));
      g_print ("\n");
    }
}

int
main (int argc, char **argv)
{
  g_autofree char *system = NULL, *mode = NULL, *host = NULL, *workload = NULL,
                  *bind = NULL, *ports_text = NULL, *more_pids_text = NULL;
  g_autoptr (GArray) ports = NULL;
  g_autoptr (GArray) more_pids = NULL;
  int port = -1, floor_port = -1, payload = 64, pairs = -1, window = -1,
      clients = -1, idle = -1, server_pid = 0, repeat = 1;
  double duration = 5, warmup = 1, rate = 10000;
  gint64 count = 0;
  int connect_timeout = 60;
  gboolean json = FALSE;
  gboolean tls = FALSE;
  GOptionEntry entries[] = {
    { "system", 's', 0, G_OPTION_ARG_STRING, &system,
      "System under test: sockchat (default), floor, mqtt, redis, nats or irc",
      "NAME" },
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
      "How the system is driven: sockchat receipts (default); mqtt qos0 "
      "(default) or qos1; nats pubsub (default) or request",
      "MODE" },
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host,
      "Host to connect to (default 127.0.0.1)", "HOST" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      "Port to connect to (sockchat: 5330; floor: a built-in relay; "
      "mqtt 1883, redis 6379, nats 4222, irc 6667)",
      "PORT" },
    { "ports", 0, 0, G_OPTION_ARG_STRING, &ports_text,
      "A cluster's nodes: pair i's sender connects to the i-th port (modulo "
      "their number), its receiver to the next one",
      "PORT,PORT,..." },
    { "workload", 'w', 0, G_OPTION_ARG_STRING, &workload,
      "latency|throughput|unbatched|open|reqresp|idle, or a..f "
      "(default latency)",
      "NAME" },
    { "payload", 0, 0, G_OPTION_ARG_INT, &payload,
      "Message body bytes (default 64; 16 at least)", "BYTES" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration,
      "Seconds measured (default 5)", "S" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup,
      "Seconds of load before measuring (default 1)", "S" },
    { "count", 'n', 0, G_OPTION_ARG_INT64, &count,
      "Stop measuring after this many messages (default: no limit)", "N" },
    { "pairs", 0, 0, G_OPTION_ARG_INT, &pairs,
      "Pairs of peers (latency/idle 1, throughput 100, unbatched 1000, "
      "open 100)",
      "N" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window,
      "Messages in flight per pair (throughput 16, others 1)", "N" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &clients,
      "Requesters for reqresp (default 50)", "N" },
    { "idle", 0, 0, G_OPTION_ARG_INT, &idle,
      "Idle connections opened first (idle workload: default 19000)", "N" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate,
      "Open loop: messages per second in total (default 10000)", "N" },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &server_pid,
      "Process to read CPU time and memory from", "PID" },
    { "more-pids", 0, 0, G_OPTION_ARG_STRING, &more_pids_text,
      "Processes whose CPU time counts with --server-pid's (a cluster's "
      "other nodes and NATS servers)",
      "PID,PID,..." },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
      "Runs of the workload (default 1)", "N" },
    { "connect-timeout", 0, 0, G_OPTION_ARG_INT, &connect_timeout,
      "Seconds allowed for connecting and handshakes (default 60)", "S" },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &tls,
      "Every connection over TLS (1.3, or 1.2; the certificate is not "
      "checked): sockchat's --tls-port, mosquitto's TLS listener",
      NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "One JSON object per run on stdout", NULL },
    { "floor-relay", 0, 0, G_OPTION_ARG_INT, &floor_port,
      "Run only the floor relay on PORT (0: any) until killed", "PORT" },
    { "bind", 'b', 0, G_OPTION_ARG_STRING, &bind,
      "Address the floor relay listens on (default 127.0.0.1)", "ADDRESS" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  ScBenchWorkloadConfig config = { 0 };
  ScBenchFloor *floor = NULL;
  const char *system_name;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_option_context_set_summary (
    context, "Drives SockChat (the floor relay, an MQTT broker, Redis, NATS or "
             "an IRC server)\nwith many connections and reports messages per "
             "second, latency\npercentiles and the server's CPU per message.");
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("sockchat-bench: %s\n", error->message);
      return 2;
    }
  raise_fd_limit ();

  if (floor_port >= 0)
    return run_floor_relay (bind ? bind : "127.0.0.1", floor_port);

  system_name = system ? system : "sockchat";
  config.adapter = sc_bench_adapter_lookup (system_name);
  if (config.adapter == NULL)
    {
      g_printerr ("sockchat-bench: unknown system “%s” (known: %s)\n",
                  system_name, sc_bench_adapter_names ());
      return 2;
    }
  if (!sc_bench_adapter_find_mode (config.adapter, mode, &config.mode))
    {
      g_autofree char *known =
        config.adapter->modes != NULL
          ? g_strjoinv (", ", (char **) config.adapter->modes)
          : g_strdup ("none");

      g_printerr ("sockchat-bench: %s has no mode “%s” (known: %s)\n",
                  system_name, mode, known);
      return 2;
    }
  if (!sc_bench_workload_parse (workload ? workload : "latency", &config.kind))
    {
      g_printerr ("sockchat-bench: unknown workload “%s”\n", workload);
      return 2;
    }
  if (payload < SC_BENCH_BODY_MIN || payload > 60000 || duration <= 0 ||
      duration > 3600 || warmup < 0 || warmup > 3600 || rate <= 0 ||
      count < 0 || repeat < 1 || connect_timeout < 1)
    {
      g_printerr ("sockchat-bench: a number is out of range\n");
      return 2;
    }

  if (config.adapter->max_payload > 0 &&
      (gsize) payload > config.adapter->max_payload)
    {
      g_printerr ("sockchat-bench: %s carries at most %" G_GSIZE_FORMAT
                  " bytes of body\n",
                  system_name, config.adapter->max_payload);
      return 2;
    }

  if (!parse_cluster_lists (ports_text, more_pids_text, &config, &ports,
                            &more_pids))
    {
      g_printerr ("sockchat-bench: --ports and --more-pids take numbers "
                  "separated by commas\n");
      return 2;
    }

  config.host = host ? host : "127.0.0.1";
  config.payload = payload;
  config.duration_s = duration;
  config.warmup_s = warmup;
  config.count = count;
  config.rate = rate;
  config.server_pid = server_pid;
  config.tls = tls;
  config.connect_timeout_ms = connect_timeout * 1000;
  config.window = 1;
  config.pairs = 1;
  switch (config.kind)
    {
    case SC_BENCH_WORKLOAD_THROUGHPUT:
      config.pairs = 100;
      config.window = 16;
      break;
    case SC_BENCH_WORKLOAD_UNBATCHED: config.pairs = 1000; break;
    case SC_BENCH_WORKLOAD_OPEN: config.pairs = 100; break;
    case SC_BENCH_WORKLOAD_REQRESP: config.clients = 50; break;
    case SC_BENCH_WORKLOAD_IDLE: config.idle = 19000; break;
    case SC_BENCH_WORKLOAD_LATENCY:
    default: break;
    }
  if (pairs > 0)
    config.pairs = pairs;
  if (clients > 0)
    config.clients = clients;
  if (idle >= 0)
    config.idle = idle;
  /* Ping-pong has one ball in play by definition. */
  if (window > 0 && config.kind != SC_BENCH_WORKLOAD_LATENCY &&
      config.kind != SC_BENCH_WORKLOAD_IDLE)
    config.window = window;

  if (port >= 0)
    config.port = port;
  else if (config.n_ports > 0)
    config.port = config.ports[0];
  else if (config.adapter == &sc_bench_adapter_floor)
    {
      /* No relay named: run one in a thread of this process.  Its CPU
       * is then ours, so no per-message CPU figure is given. */
      floor = sc_bench_floor_new ("127.0.0.1", 0, &error);
      if (floor == NULL)
        {
          g_printerr ("sockchat-bench: %s\n", error->message);
          return 1;
        }
      sc_bench_floor_start_thread (floor);
      config.port = sc_bench_floor_get_port (floor);
      config.server_pid = 0;
    }
  else
    config.port = config.adapter->default_port;

  for (int i = 0; i < repeat; i++)
    {
      ScBenchResult result;

      if (!sc_bench_workload_run (&config, &result, &error))
        {
          g_printerr ("sockchat-bench: %s %s: %s\n", system_name,
                      sc_bench_workload_name (config.kind), error->message);
          sc_bench_result_clear (&result);
          sc_bench_floor_free (floor);
          return 1;
        }
      if (json)
        print_json (&config, system_name, &result);
      else
        print_text (&config, system_name, &result);
      fflush (stdout);
      sc_bench_result_clear (&result);
    }
  sc_bench_floor_free (floor);
  return 0;
}
