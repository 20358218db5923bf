/* sc-history-writer.h: the history's writer thread, for sc-history.c
 * only. */
#pragma once

#include "sc-history-inbox.h"

G_BEGIN_DECLS

GThread *sc_history_writer_start (const char *path,
                                  ScHistoryInbox *inbox,
                                  GError **error);

G_END_DECLS
