#!/usr/bin/env bash
# The compose stack on PROFD_BUS=pubsub, against Google's Pub/Sub emulator
# (see compose_stack.sh).
exec bash "$(dirname "$0")/compose_stack.sh" pubsub
