terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.19.0 is the first release whose Lambda runtime list contains nodejs24.x;
      # every 5.x release rejects it at plan time ("expected runtime to be one of ...").
      version = ">= 6.19.0, < 7.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5.0, < 4.0.0"
    }
  }
}
