/* sc-directory-sweeper.h: removes the markers that clients who left
 * leave in the cluster's directory bucket, so that the bucket holds about
 * as many entries as there are clients, however many came and went. */
#pragma once

#include <glib.h>
#include <nats/nats.h>

G_BEGIN_DECLS

typedef struct _ScDirectorySweeper ScDirectorySweeper;

ScDirectorySweeper *sc_directory_sweeper_new (kvStore *directory, guint keep_s);
void sc_directory_sweeper_poke (ScDirectorySweeper *self, gint64 now);
void sc_directory_sweeper_free (ScDirectorySweeper *self);

G_END_DECLS
