/* sc-cluster-idle.c: scenario 7: many silent clients, held while run.sh
 * counts the backplane's messages. */
#include "config.h"

#include <stdio.h>

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

static gboolean
wave_has_ids (gpointer data)
{
  GPtrArray *wave = data;

  for (guint i = 0; i < wave->len; i++)
    if (!has_id (g_ptr_array_index (wave, i)))
      return FALSE;
  return TRUE;
}

/* @per_node clients on every node, connected in waves; once all have
 * their ids @ready_path is written, and they are held, silent, until
 * @stop_path exists, at most @hold_s seconds. */
int
run_idle (guint per_node,
          const char *ready_path,
          const char *stop_path,
          guint hold_s)
{
  guint total = per_node * n_ports, dropped = 0;
  gint64 started = now_us (), until;
  g_autoptr (GError) error = NULL;

  on_message = NULL;
  while (clients->len < total)
    {
      g_autoptr (GPtrArray) wave = g_ptr_array_new ();
      guint n = MIN (500, total - clients->len);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (wave, connect_client (clients->len % n_ports, "",
                                               SC_FLAG_NO_PRESENCE, FALSE));
      /* Only the wave is polled: the others are silent, and polling
       * thousands of them each round made the connects quadratic. */
      for (gint64 deadline = now_us () + 20 * G_USEC_PER_SEC;
           !wave_has_ids (wave);)
        {
          if (now_us () > deadline)
            g_error ("idle: connections got no id");
          pump_set (wave, 5);
        }
    }
  g_print ("idle: %u clients connected in %.1f s\n", total,
           (now_us () - started) / 1e6);
  if (ready_path && !g_file_set_contents (ready_path, "ready\n", -1, &error))
    g_error ("%s", error->message);
  started = now_us ();
  for (until = started + (gint64) hold_s * G_USEC_PER_SEC;
       now_us () < until &&
       !(stop_path && g_file_test (stop_path, G_FILE_TEST_EXISTS));)
    pump (100);
  for (guint i = 0; i < clients->len; i++)
    if (((Client *) g_ptr_array_index (clients, i))->fd < 0)
      dropped++;
  ok (dropped == 0, "idle: %u clients held %.0f s, %u disconnected", total,
      (now_us () - started) / 1e6, dropped);
  /* Freeing 15,000 clients one by one took 19 s on the test machine;
   * the kernel closes them at exit at once. */
  fflush (stdout);
  _exit (n_failed == 0 ? 0 : 1);
}
