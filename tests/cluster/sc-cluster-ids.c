/* sc-cluster-ids.c: scenario 2: many short connections, their client ids
 * written one a line to --out, for run.sh to find repeats. */
#include "config.h"

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

int
run_ids (guint connects, const char *out_path)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  guint done = 0;

  on_message = NULL;
  while (done < connects)
    {
      g_autoptr (GPtrArray) wave = g_ptr_array_new ();
      guint n = MIN (100, connects - done);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (wave, connect_client ((done + i) % n_ports, "",
                                               SC_FLAG_NO_PRESENCE, FALSE));
      for (guint i = 0; i < n; i++)
        {
          Client *client = g_ptr_array_index (wave, i);

          if (!pump_until (has_id, client, 10000) || client->id == 0)
            g_error ("a connection got no id");
          g_string_append_printf (out, "%u\n", client->id);
          disconnect_client (client);
        }
      done += n;
    }
  if (!g_file_set_contents (out_path, out->str, (gssize) out->len, &error))
    g_error ("%s", error->message);
  return 0;
}
