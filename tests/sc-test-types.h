/* sc-test-types.h: every message type docs/PROTOCOL.md defines, in wire
 * order, written out by hand so that tests check the codec against the
 * specification rather than against itself. */
#pragma once

#include "sc-protocol.h"

static const ScMessageType sc_test_all_types[] = {
  SC_MSG_HELLO,
  SC_MSG_GET_TIME,
  SC_MSG_GET_NAME,
  SC_MSG_LIST_CLIENTS,
  SC_MSG_SEND_MESSAGE,
  SC_MSG_BROADCAST,
  SC_MSG_SET_NICKNAME,
  SC_MSG_PING,
  SC_MSG_MESSAGE_ACK,
  SC_MSG_PONG,
  SC_MSG_MESSAGE_ACKS,
  SC_MSG_GREETING,
  SC_MSG_MESSAGE,
  SC_MSG_DELIVERY_RECEIPT,
  SC_MSG_CLIENT_JOINED,
  SC_MSG_CLIENT_LEFT,
  SC_MSG_CLIENT_RENAMED,
  SC_MSG_SERVER_SHUTDOWN,
  SC_MSG_PROTOCOL_ERROR,
  SC_MSG_SERVER_PING,
  SC_MSG_DELIVERY_RECEIPTS,
  SC_MSG_HELLO_REPLY,
  SC_MSG_GET_TIME_REPLY,
  SC_MSG_GET_NAME_REPLY,
  SC_MSG_LIST_CLIENTS_REPLY,
  SC_MSG_SEND_MESSAGE_REPLY,
  SC_MSG_BROADCAST_REPLY,
  SC_MSG_SET_NICKNAME_REPLY,
  SC_MSG_PING_REPLY,
};
