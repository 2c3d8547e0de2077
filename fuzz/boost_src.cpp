// Boost.JSON and Boost.URL compiled into the fuzz target itself, so that their parsing is
// instrumented too (the system libraries are built without coverage).
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
