// SPDX-License-Identifier: MIT
// allocscope: the runner (placeholder until the harness lands; exits 2).
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "allocscope: the runner is not built yet\n");
	return 2;
}
