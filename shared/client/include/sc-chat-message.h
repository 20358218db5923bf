/* sc-chat-message.h: a message another client sent us, as the client
 * core reports it: a boxed value, independent of the wire format. */
#pragma once

#include "sc-peer.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 id;         /* the server's message id */
  ScPeer *sender;     /* who sent it, as they were when they sent it */
  char *text;         /* valid UTF-8 */
  gboolean broadcast; /* sent to everyone, not to us alone */
  gint64 sent_ms;     /* when the server took it, Unix milliseconds */
} ScChatMessage;

#define SC_TYPE_CHAT_MESSAGE (sc_chat_message_get_type ())
GType sc_chat_message_get_type (void) G_GNUC_CONST;

ScChatMessage *sc_chat_message_new (guint64 id,
                                    const ScPeer *sender,
                                    const char *text,
                                    gboolean broadcast,
                                    gint64 sent_ms);
ScChatMessage *sc_chat_message_copy (const ScChatMessage *message);
void sc_chat_message_free (ScChatMessage *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScChatMessage, sc_chat_message_free)

G_END_DECLS
