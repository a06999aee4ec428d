/* bus: module placeholder until its sources land. */
typedef int profd_bus_placeholder;
