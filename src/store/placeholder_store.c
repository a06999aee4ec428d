/* store: module placeholder until its sources land. */
typedef int profd_store_placeholder;
