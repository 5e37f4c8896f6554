// Temporary translation unit so the node library has a source before the real ones land.
namespace coffer::node {}
