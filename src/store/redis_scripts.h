/* redis_scripts.h - Lua scripts run by the Redis store (see redis_scripts.c). */
#ifndef PROFD_STORE_REDIS_SCRIPTS_H
#define PROFD_STORE_REDIS_SCRIPTS_H

extern const char profd_lua_create[];
extern const char profd_lua_put[];
extern const char profd_lua_list[];
extern const char profd_lua_remove[];
extern const char profd_lua_claim[];
extern const char profd_lua_renew[];
extern const char profd_lua_release[];
extern const char profd_lua_incr[];

#endif
