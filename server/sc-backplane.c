/* sc-backplane.c: the engine-independent side of the backplane: choosing
 * the engine, and the calls the server makes, each of which is what a
 * single server does when there is no backplane. */
#include "config.h"

#include <glib/gi18n.h>

#include <gmodule.h>
#include <string.h>

#include "sc-backplane.h"
#include "sc-server-private.h"

GQuark
sc_backplane_error_quark (void)
{
  return g_quark_from_static_string ("sc-backplane-error-quark");
}

#ifdef SC_HAVE_CLUSTER
typedef ScBackplane *(*ScBackplaneConstructor) (ScServer *server,
                                                GError **error);

/* Where the NATS module is looked for: beside the running program first
 * (a build tree), then where it is installed. */
static GPtrArray *
module_candidates (void)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *program = g_file_read_link ("/proc/self/exe", NULL);

  if (program != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (program);

      g_ptr_array_add (paths,
                       g_module_build_path (dir, "sockchat-backplane-nats"));
    }
  g_ptr_array_add (paths, g_module_build_path (SC_BACKPLANE_MODULE_DIR,
                                               "sockchat-backplane-nats"));
  return paths;
}

/* Loads the NATS backplane module once, for good (its threads outlive
 * any one call), and returns its constructor. */
static ScBackplaneConstructor
load_nats_engine (GError **error)
{
  g_autoptr (GPtrArray) paths = module_candidates ();
  g_autofree char *failures = NULL;
  gpointer constructor = NULL;

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      GModule *module;

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        continue;
      module = g_module_open (path, G_MODULE_BIND_LOCAL);
      if (module == NULL)
        {
          g_autofree char *earlier = g_steal_pointer (&failures);

          failures = g_strdup_printf ("%s%s%s", earlier ? earlier : "",
                                      earlier ? "; " : "", g_module_error ());
          continue;
        }
      if (g_module_symbol (module, "sc_backplane_nats_new", &constructor))
        {
          g_module_make_resident (module);
          return (ScBackplaneConstructor) constructor;
        }
      g_module_close (module);
    }
  g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
               _ ("--cluster: cannot load the NATS backplane module "
                  "(sockchat-backplane-nats, in %s): %s"),
               SC_BACKPLANE_MODULE_DIR,
               failures ? failures : _ ("not installed"));
  return NULL;
}
#endif

/* The backplane the configuration asks for, or NULL without error when
 * it asks for none. */
ScBackplane *
sc_backplane_new (ScServer *server, GError **error)
{
#ifdef SC_HAVE_CLUSTER
  ScBackplaneConstructor constructor;
#endif

  if (server->config->cluster_urls == NULL)
    return NULL;
#ifdef SC_HAVE_CLUSTER
  constructor = load_nats_engine (error);
  return constructor ? constructor (server, error) : NULL;
#else
  g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
               _ ("--cluster: this server was built without cluster support "
                  "(meson option -Dcluster, needs libnats)"));
  return NULL;
#endif
}

gboolean
sc_backplane_start (ScBackplane *backplane, GError **error)
{
  return backplane == NULL || backplane->klass->start (backplane, error);
}

void
sc_backplane_stop (ScBackplane *backplane)
{
  if (backplane != NULL)
    backplane->klass->stop (backplane);
}

void
sc_backplane_free (ScBackplane *backplane)
{
  if (backplane != NULL)
    backplane->klass->free (backplane);
}

/* FALSE with a backplane that has no id to give now; without one the
 * server numbers its clients itself. */
gboolean
sc_backplane_take_client_id (ScBackplane *backplane, guint32 *id)
{
  return backplane->klass->take_client_id (backplane, id);
}

gboolean
sc_backplane_refuses_clients (ScBackplane *backplane)
{
  return backplane != NULL && backplane->klass->refuses_clients (backplane);
}

/* A client said hello or changed its nickname. */
void
sc_backplane_client_ready (ScBackplane *backplane,
                           const ScClientInfo *info,
                           gboolean wants_presence)
{
  if (backplane != NULL)
    backplane->klass->client_ready (backplane, info, wants_presence);
}

void
sc_backplane_client_left (ScBackplane *backplane, guint32 id)
{
  if (backplane != NULL)
    backplane->klass->client_left (backplane, id);
}

/* Whether @id is a client of another node, as this node last heard. */
gboolean
sc_backplane_has_client (ScBackplane *backplane, guint32 id)
{
  return backplane != NULL && backplane->klass->has_client (backplane, id);
}

/* Nicknames are unique across the cluster as on one server: the
 * nickname of another node's client that has @look among its looks
 * (sc_nickname_looks()), as this node last heard; NULL when none (or
 * without a backplane).
 * (transfer full) */
char *
sc_backplane_nickname_holder (ScBackplane *backplane, const char *look)
{
  if (backplane == NULL || look == NULL)
    return NULL;
  return backplane->klass->nickname_holder (backplane, look);
}

/* The ids of every client of the other nodes, in no order; NULL without
 * a backplane.  (transfer full) */
GArray *
sc_backplane_remote_ids (ScBackplane *backplane)
{
  return backplane ? backplane->klass->remote_ids (backplane) : NULL;
}

guint
sc_backplane_count_remote (ScBackplane *backplane)
{
  return backplane ? backplane->klass->count_remote (backplane) : 0;
}

static gsize
encoded_size (const ScClientInfo *info)
{
  return 4 + 2 + 8 + 2 + strlen (info->nickname) + 2 + strlen (info->address);
}

static int
compare_infos (gconstpointer a, gconstpointer b)
{
  const ScClientInfo *x = *(ScClientInfo *const *) a;
  const ScClientInfo *y = *(ScClientInfo *const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

/* A LIST_CLIENTS page of this node's and the other nodes' clients: the
 * local page (ids above @after_id, within @byte_budget) merged with the
 * remote entries above @after_id, in id order, cut where the budget ends
 * or where either side's page ended with more to come, whichever is
 * first, so the next page starts where this one stopped.
 * (transfer full; takes @local_page) */
GPtrArray *
sc_backplane_merge_list (ScBackplane *backplane,
                         GPtrArray *local_page,
                         gboolean *more,
                         guint32 after_id,
                         gsize byte_budget)
{
  g_autoptr (GPtrArray) remote = NULL;
  GPtrArray *page;
  gboolean remote_more = FALSE;
  guint32 cut = G_MAXUINT32;
  gsize used = 0;

  if (backplane == NULL)
    return local_page;
  remote = backplane->klass->list_after (
    backplane, after_id, local_page->len + 1 + byte_budget / 20, &remote_more);
  if (*more && local_page->len > 0)
    cut = ((ScClientInfo *) g_ptr_array_index (local_page, local_page->len - 1))
            ->id;
  if (remote_more && remote->len > 0)
    cut = MIN (
      cut, ((ScClientInfo *) g_ptr_array_index (remote, remote->len - 1))->id);
  g_ptr_array_extend_and_steal (local_page, g_steal_pointer (&remote));
  g_ptr_array_sort (local_page, compare_infos);
  page = g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  for (guint i = 0; i < local_page->len; i++)
    {
      ScClientInfo *info = g_ptr_array_index (local_page, i);
      gsize size = encoded_size (info);

      if (info->id > cut || used + size > byte_budget)
        {
          *more = TRUE;
          break;
        }
      used += size;
      g_ptr_array_add (page, sc_client_info_copy (info));
    }
  *more = *more || remote_more;
  g_ptr_array_unref (local_page);
  return page;
}

/* Sends a message to a client of another node.  OK when it is on its
 * way (its receipt will come back through the backplane), or the status
 * of the receipt the sender is owed at once. */
ScStatus
sc_backplane_route_message (ScBackplane *backplane,
                            guint32 sender_id,
                            guint32 recipient_id,
                            guint64 message_id,
                            GBytes *frame,
                            gboolean receipt)
{
  if (backplane == NULL)
    return SC_STATUS_RECIPIENT_LEFT;
  return backplane->klass->route_message (backplane, sender_id, recipient_id,
                                          message_id, frame, receipt);
}

/* Sends a receipt to a sender of another node; FALSE when @sender_id is
 * not known there (it left, as a local sender that left is skipped). */
gboolean
sc_backplane_route_receipt (ScBackplane *backplane,
                            guint32 sender_id,
                            guint64 message_id,
                            guint32 recipient_id,
                            ScStatus status)
{
  return backplane != NULL &&
         backplane->klass->route_receipt (backplane, sender_id, message_id,
                                          recipient_id, status);
}

/* A worker's round ends: what it routed goes out, one publication per
 * destination node. */
void
sc_backplane_flush (ScBackplane *backplane)
{
  if (backplane != NULL)
    backplane->klass->flush (backplane);
}
