#include "daemon/store_thread.hpp"

namespace sotong {

StoreThread::StoreThread(std::unique_ptr<Store> store) : store_(std::move(store)) {}

StoreThread::~StoreThread() {
  stop();
}

void StoreThread::stop() {
  pool_.join();
}

}  // namespace sotong
