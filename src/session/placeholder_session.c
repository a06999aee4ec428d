/* session: module placeholder until its sources land. */
typedef int profd_session_placeholder;
