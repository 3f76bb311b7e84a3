// SPDX-License-Identifier: MIT
// C++ callers under a preloaded malloc: operator new/delete (libstdc++
// forwards to malloc), aligned new, containers, strings and threads. Prints
// a checksum that must equal the one under glibc.
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

struct alignas(256) Wide {
	char b[300];
};

int main()
{
	unsigned long sum = 0;
	std::map<std::string, std::vector<int>> m;
	for (int i = 0; i < 20000; i++) {
		std::string k = "key" + std::to_string(i % 997);
		m[k].push_back(i);
	}
	for (auto &kv : m)
		for (int v : kv.second)
			sum = sum * 31 + (unsigned long)v + kv.first.size();
	std::vector<std::thread> ts;
	std::vector<unsigned long> part(4);
	for (int t = 0; t < 4; t++)
		ts.emplace_back([t, &part] {
			std::vector<std::unique_ptr<Wide>> w;
			for (int i = 0; i < 2000; i++) {
				w.emplace_back(new Wide);
				if (reinterpret_cast<std::uintptr_t>(w.back().get()) % 256)
					part[t] = 1;
				w.back()->b[0] = (char)i;
			}
			unsigned long s = 0;
			for (auto &x : w)
				s += (unsigned char)x->b[0];
			part[t] += s;
		});
	for (auto &t : ts)
		t.join();
	for (unsigned long p : part)
		sum += p;
	std::printf("%lu\n", sum);
	return 0;
}
