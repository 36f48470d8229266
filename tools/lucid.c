/* lucid.c - the command-line tool (in progress). */
#include <stdio.h>

#include "lucid.h"

int main(void)
{
    printf("lucid %s\n", lucid_version());
    return 0;
}
