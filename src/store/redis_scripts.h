/* redis_scripts.h - Lua scripts run by the Redis store (see redis_scripts.c). */
#ifndef PROFD_STORE_REDIS_SCRIPTS_H
#define PROFD_STORE_REDIS_SCRIPTS_H

extern const char store__lua_create[];
extern const char store__lua_put[];
extern const char store__lua_list[];
extern const char store__lua_remove[];
extern const char store__lua_claim[];
extern const char store__lua_renew[];
extern const char store__lua_release[];
extern const char store__lua_incr[];

#endif
